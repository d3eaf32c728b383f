//! A layer blob read for a build's SBOM: streamed from the registry
//! (never held whole), decompressed (gzip, or a plain tar), walked entry
//! by entry for what the SBOM needs (see the core's `sbom::layers`), and
//! checked against its digest once the whole blob has been read. A layer
//! golden cannot decompress (zstd) is not an error: its facts say why it
//! was not read, and the SBOM says it is incomplete.

use std::io::{BufRead, BufReader, Read};

use futures::{StreamExt as _, TryStreamExt as _};
use reqwest::Method;
use sha2::{Digest as _, Sha256};

use super::wire::*;
use super::Distribution;
use crate::name::{Digest, Repository};
use crate::registry::RegistryError;
use crate::sbom::layers::{FILE_LIMIT, LAYER_LIMIT};
use crate::sbom::LayerFacts;

impl Distribution {
    pub(super) async fn read_layer_facts(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<LayerFacts, RegistryError> {
        if let Some(facts) = self.layer_facts.lock().unwrap().get(digest) {
            return Ok(facts.clone());
        }
        // A layer read back is idempotent: a stream broken midway (a
        // proxy's reset, a stall) is read again from its start.
        let mut attempt = 1;
        let facts = loop {
            match self.read_layer_once(repository, digest).await {
                Ok(facts) => break facts,
                Err(error) if attempt < LAYER_ATTEMPTS && !error.is_unreachable() => {
                    tracing::warn!("{error}; reading it again ({attempt} of {LAYER_ATTEMPTS})");
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        };
        let mut remembered = self.layer_facts.lock().unwrap();
        // A daemon's client lives for months: what it remembers is
        // bounded, by count and by the bytes of the files it holds.
        let held: u64 = remembered.values().map(LayerFacts::bytes).sum();
        if remembered.len() >= REMEMBERED_LAYERS || held + facts.bytes() > REMEMBERED_BYTES {
            remembered.clear();
        }
        remembered.insert(digest.clone(), facts.clone());
        Ok(facts)
    }

    async fn read_layer_once(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<LayerFacts, RegistryError> {
        let action = format!("read the layer {digest} of `{repository}` for its SBOM");
        let host = repository.registry().to_string();
        let path = format!("/v2/{}/blobs/{digest}", repository.path());
        let no_body = (reqwest::header::HeaderMap::new(), None);
        let response = self
            .send_within(
                Method::GET,
                repository,
                &path,
                no_body,
                &action,
                Some(LAYER_TIMEOUT),
            )
            .await?;
        let status = response.status();
        if !status.is_success() {
            let reply = read_capped(response, 64 * 1024, &host, &action).await?;
            return Err(status_error(&host, &action, status, &reply));
        }
        // Each chunk must arrive within LAYER_IDLE: a stalled download
        // fails (and is read again) instead of holding the run.
        let chunks = response.bytes_stream().map_err(std::io::Error::other);
        let chunks = futures::stream::unfold(chunks, |mut chunks| async move {
            match tokio::time::timeout(LAYER_IDLE, chunks.next()).await {
                Ok(Some(chunk)) => Some((chunk, chunks)),
                Ok(None) => None,
                Err(_) => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no data for {}s", LAYER_IDLE.as_secs()),
                    )),
                    chunks,
                )),
            }
        });
        let reader =
            tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(Box::pin(chunks)));
        let expected = digest.clone();
        let walked = tokio::task::spawn_blocking(move || facts(reader, &expected))
            .await
            .map_err(|error| invalid(&host, &action, error.to_string()))?;
        walked.map_err(|message| invalid(&host, &action, message))
    }
}

/// How many layers' facts a client remembers, and how many bytes of
/// files they may hold together.
const REMEMBERED_LAYERS: usize = 256;
const REMEMBERED_BYTES: u64 = 256 << 20;
/// How long a whole layer may take to stream back (a multi-GB layer over
/// a slow link), how long its stream may stall, and how many times a
/// broken one is read.
const LAYER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);
const LAYER_IDLE: std::time::Duration = std::time::Duration::from_secs(60);
const LAYER_ATTEMPTS: u32 = 3;

/// Reads a whole layer blob from `raw`: its facts, once its bytes hash to
/// `digest`.
fn facts(raw: impl Read, digest: &Digest) -> Result<LayerFacts, String> {
    let mut hashing = Hashing {
        inner: raw,
        hash: Sha256::new(),
    };
    let facts = {
        let mut buffered = BufReader::new(&mut hashing);
        let magic = buffered
            .fill_buf()
            .map_err(|error| format!("the download failed: {error}"))?
            .to_vec();
        let facts = if magic.starts_with(&[0x1f, 0x8b]) {
            walk(flate2::read::MultiGzDecoder::new(&mut buffered))?
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            LayerFacts {
                unread: Some(format!(
                    "layer {digest}: zstd-compressed layers are not read yet"
                )),
                ..LayerFacts::default()
            }
        } else {
            walk(&mut buffered)?
        };
        std::io::copy(&mut buffered, &mut std::io::sink())
            .map_err(|error| format!("the download failed: {error}"))?;
        facts
    };
    let read = format!("sha256:{:x}", hashing.hash.finalize());
    if digest.as_str() != read {
        return Err(format!(
            "the blob does not match its digest (it hashes to {read})"
        ));
    }
    Ok(facts)
}

/// The facts of the uncompressed tar `tar`, read to its end.
fn walk(tar: impl Read) -> Result<LayerFacts, String> {
    let mut archive = tar::Archive::new(tar);
    let mut facts = LayerFacts::default();
    let mut kept: u64 = 0;
    let entries = archive
        .entries()
        .map_err(|error| format!("not a tar archive: {error}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| format!("a broken tar entry: {error}"))?;
        let path = entry
            .path()
            .map_err(|error| format!("a tar entry with a bad path: {error}"))?
            .to_string_lossy()
            .into_owned();
        let regular = entry.header().entry_type().is_file();
        let size = entry.size();
        facts.add(&path, regular, || {
            if size > FILE_LIMIT {
                return Err(format!(
                    "`/{path}` is {size} bytes, more than golden reads ({FILE_LIMIT})"
                ));
            }
            kept += size;
            if kept > LAYER_LIMIT {
                return Err(format!(
                    "its package databases hold more than golden reads of one layer ({LAYER_LIMIT} bytes, at `/{path}`)"
                ));
            }
            let mut bytes = Vec::with_capacity(size as usize);
            entry
                .read_to_end(&mut bytes)
                .map_err(|error| format!("`/{path}` could not be read: {error}"))?;
            Ok(bytes)
        })?;
    }
    // The tar's end-of-archive blocks, and any padding after them.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink())
        .map_err(|error| format!("the download failed: {error}"))?;
    Ok(facts)
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.hash.update(&buffer[..read]);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, *bytes).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn a_gzip_or_plain_layer_is_walked_and_checked_against_its_digest() {
        let tar = layer(&[
            ("var/lib/dpkg/status", b"Package: a\nVersion: 1\n"),
            ("usr/bin/other", b"skipped"),
        ]);
        for blob in [gzip(&tar), tar.clone()] {
            let facts = facts(blob.as_slice(), &Digest::of(&blob)).unwrap();
            assert_eq!(
                facts.files.keys().collect::<Vec<_>>(),
                ["var/lib/dpkg/status"]
            );
        }
        let blob = gzip(&tar);
        let error = facts(blob.as_slice(), &Digest::of(b"another")).unwrap_err();
        assert!(error.contains("does not match its digest"), "{error}");
    }

    #[test]
    fn a_zstd_layer_is_named_unread_and_garbage_is_an_error() {
        let zstd = [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0];
        let facts = facts(zstd.as_slice(), &Digest::of(&zstd)).unwrap();
        assert!(facts.unread.unwrap().contains("zstd"));
        let garbage = vec![7u8; 1024];
        assert!(facts_error(&garbage).contains("tar"));
    }

    #[test]
    fn a_package_database_past_the_limit_is_an_error_not_held() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        // A header claiming more than golden reads; no body is needed to
        // be refused.
        header.set_size(FILE_LIMIT + 1);
        header.set_mode(0o644);
        header.set_path("var/lib/dpkg/status").unwrap();
        header.set_cksum();
        builder.append(&header, std::io::empty()).unwrap_or(());
        let mut blob = builder.into_inner().unwrap_or_default();
        blob.resize(blob.len().max(512) + 1024, 0);
        let error = facts_error(&blob);
        assert!(error.contains("more than golden reads"), "{error}");
    }

    fn facts_error(blob: &[u8]) -> String {
        facts(blob, &Digest::of(blob)).unwrap_err()
    }
}
