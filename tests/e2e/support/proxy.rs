//! The pieces of the tests' loopback HTTP proxies in front of a registry:
//! one request per connection (`Connection: close`), read up to its head,
//! then passed on, held, or answered by the test itself.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

/// The head of one request a proxy read from its client, and what of its
/// body came with it.
pub struct Request {
    pub method: String,
    pub target: String,
    head: String,
    body_start: Vec<u8>,
}

/// Reads the request head of `client` up to its blank line; `None` when
/// the client went away first.
pub fn read_request(client: &mut TcpStream) -> Option<Request> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    let end = loop {
        match client.read(&mut buffer) {
            Ok(0) | Err(_) => return None,
            Ok(read) => head.extend_from_slice(&buffer[..read]),
        }
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).to_string();
    let mut words = text.split_whitespace();
    Some(Request {
        method: words.next().unwrap_or_default().to_string(),
        target: words.next().unwrap_or_default().to_string(),
        body_start: head[end..].to_vec(),
        head: text,
    })
}

/// Sends `request` to `upstream` (`host:port`) with `Connection: close`
/// and copies the rest of the client's body to it in the background;
/// returns the upstream connection, whose reply the caller passes on
/// ([`pass_reply`]) or replaces. `None` when `upstream` cannot be reached.
pub fn open_upstream(client: &TcpStream, request: &Request, upstream: &str) -> Option<TcpStream> {
    let mut rewritten: String = request
        .head
        .trim_end()
        .lines()
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
        .map(|line| format!("{line}\r\n"))
        .collect();
    rewritten.push_str("Connection: close\r\n\r\n");
    let mut server = TcpStream::connect(upstream).ok()?;
    server.write_all(rewritten.as_bytes()).ok()?;
    server.write_all(&request.body_start).ok()?;
    let (mut from_client, mut to_server) = (client.try_clone().ok()?, server.try_clone().ok()?);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_server);
    });
    Some(server)
}

/// Copies the reply of `server` to `client`, then closes both.
pub fn pass_reply(mut server: TcpStream, mut client: TcpStream) {
    let _ = std::io::copy(&mut server, &mut client);
    close(server, client);
}

/// Closes both connections.
pub fn close(server: TcpStream, client: TcpStream) {
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}
