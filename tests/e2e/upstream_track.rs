//! End to end: `track = "10.0.*-noble"` follows a vendor's releases. golden
//! lists the tags of the final FROM's repository (once per run), builds
//! FROM the newest matching tag pinned by digest, names it in
//! `org.opencontainers.image.base.name`, says `upstream-released` when the
//! vendor publishes a newer one and, with `adopt = "on-schedule"`, waits
//! for the schedule. Against the real engine and registry.

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::{digest, entry, labels, reason_kinds, tags, Stack, REGISTRY};

const BASE_NAME: &str = "org.opencontainers.image.base.name";
const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// Publishes the vendor's releases every test starts from (with a
/// prerelease on the tracked line and the next major's preview, neither of
/// which `10.0.*-noble` may pick); returns `10.0.1-noble`'s digest.
fn publish_releases(stack: &Stack) -> String {
    stack.publish_upstream(
        "aspnet",
        "10.0.0-noble",
        &[("ASPNET_VERSION", "10.0.0")],
        &[],
    );
    let newest = stack.publish_upstream(
        "aspnet",
        "10.0.1-noble",
        &[("ASPNET_VERSION", "10.0.1")],
        &[],
    );
    for preview in ["11.0.0-preview.1-noble", "10.0.9-preview.1-noble"] {
        stack.publish_upstream("aspnet", preview, &[("ASPNET_VERSION", "11.0.0")], &[]);
    }
    newest
}

/// golden.toml of `aspnet` (FROM `upstream:10.0.0-noble`, tracking
/// `10.0.*-noble` with `extra`) and `app`, FROM golden `aspnet:10.0`.
fn configure(stack: &Stack, upstream: &str, extra: &str) {
    stack.write(
        "images/aspnet/Dockerfile",
        &format!("FROM {upstream}:10.0.0-noble\nRUN echo aspnet > /etc/aspnet\n"),
    );
    stack.write(
        "images/app/Dockerfile",
        &format!(
            "FROM {}:10.0\nRUN echo app > /etc/app\n",
            stack.repository("aspnet")
        ),
    );
    std::fs::write(
        stack.config(),
        format!(
            "[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"{}\"\n\n\
             [images.aspnet]\nversion = \"10.0\"\ncontext = \"images/aspnet\"\n\
             track = \"10.0.*-noble\"\n{extra}\n\
             [images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\n",
            stack.namespace
        ),
    )
    .unwrap();
}

#[test]
fn a_tracked_from_builds_the_newest_matching_release_and_a_new_one_is_upstream_released() {
    let stack = Stack::new("track-release");
    let upstream = stack.upstream_repository("aspnet");
    let newest = publish_releases(&stack);
    configure(&stack, &upstream, "");
    stack.golden(&["build", "--all"]).expect(0);
    let aspnet = stack.repository("aspnet");
    let built = labels(&aspnet, "10.0.0");
    assert_eq!(built[BASE_NAME], format!("{upstream}:10.0.1-noble"));
    assert_eq!(built[BASE_DIGEST], newest);
    // The Dockerfile in git keeps its FROM: the floor.
    let dockerfile = std::fs::read_to_string(stack.path().join("images/aspnet/Dockerfile"))
        .expect("the Dockerfile");
    assert!(dockerfile.starts_with(&format!("FROM {upstream}:10.0.0-noble\n")));
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    assert_eq!(entry(&plan, "aspnet")["decision"], "up-to-date", "{plan:#}");
    assert_eq!(entry(&plan, "app")["decision"], "up-to-date", "{plan:#}");

    let released = stack.publish_upstream(
        "aspnet",
        "10.0.2-noble",
        &[("ASPNET_VERSION", "10.0.2")],
        &[],
    );
    let text = stack.golden(&["plan", "--wide"]).expect(0).stdout;
    assert!(
        text.contains("upstream released 10.0.2-noble (was 10.0.1-noble)"),
        "{text}"
    );
    assert!(!text.contains("base updated"), "{text}");
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    let reasons = &entry(&plan, "aspnet")["reasons"];
    assert_eq!(
        reasons,
        &serde_json::json!([{ "kind": "upstream-released", "old": "10.0.1-noble", "new": "10.0.2-noble" }]),
        "{plan:#}"
    );
    assert_eq!(
        entry(&plan, "aspnet")["upstream"],
        format!("{upstream}:10.0.2-noble")
    );
    assert_eq!(entry(&plan, "aspnet")["upstream_digest"], released.as_str());
    assert_eq!(reason_kinds(&plan, "app"), vec!["parent-rebuilt"]);

    let run = stack
        .golden(&["build", "--all", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(run["totals"]["built"], 2, "{run:#}");
    let rebuilt = labels(&aspnet, "10.0.1");
    assert_eq!(rebuilt[BASE_NAME], format!("{upstream}:10.0.2-noble"));
    assert_eq!(rebuilt[BASE_DIGEST], released);
    // The child was built on the new build, in the same run.
    let app = labels(&stack.repository("app"), "1.0.1");
    assert_eq!(
        Some(app[BASE_DIGEST].clone()),
        digest(&aspnet, "10.0.1"),
        "{app:#?}"
    );
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    assert_eq!(entry(&plan, "aspnet")["decision"], "up-to-date", "{plan:#}");
    assert_eq!(entry(&plan, "app")["decision"], "up-to-date", "{plan:#}");
}

#[test]
fn on_schedule_a_new_release_waits_for_the_schedule_and_the_plan_says_when() {
    let stack = Stack::new("track-on-schedule");
    let upstream = stack.upstream_repository("aspnet");
    publish_releases(&stack);
    configure(
        &stack,
        &upstream,
        "adopt = \"on-schedule\"\nschedule = \"@yearly\"\n",
    );
    stack.golden(&["build", "--all"]).expect(0);
    let aspnet = stack.repository("aspnet");
    let released = stack.publish_upstream(
        "aspnet",
        "10.0.2-noble",
        &[("ASPNET_VERSION", "10.0.2")],
        &[],
    );
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    let image = entry(&plan, "aspnet");
    assert_eq!(image["decision"], "up-to-date", "{plan:#}");
    assert_eq!(image["reasons"], serde_json::json!([]), "{plan:#}");
    assert_eq!(image["waiting"]["old"], "10.0.1-noble", "{plan:#}");
    assert_eq!(image["waiting"]["new"], "10.0.2-noble", "{plan:#}");
    let adopt_at = image["waiting"]["adopt_at"]
        .as_str()
        .expect("when it is adopted")
        .to_string();
    assert_eq!(image["next_due"], adopt_at.as_str());
    let text = stack.golden(&["plan", "--wide"]).expect(0).stdout;
    assert!(
        text.contains(&format!(
            "upstream released 10.0.2-noble; adopted at the schedule's next run {adopt_at}"
        )),
        "{text}"
    );
    let before = tags(&aspnet);
    let run = stack
        .golden(&["build", "--all", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(run["totals"]["built"], 0, "{run:#}");
    assert_eq!(tags(&aspnet), before);

    // The schedule fires: the release is adopted.
    let run = stack
        .golden(&["build", "--all", "--now", &adopt_at, "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(
        reason_kinds(&run, "aspnet"),
        vec!["schedule-fired", "upstream-released"],
        "{run:#}"
    );
    let adopted = labels(&aspnet, "10.0.1");
    assert_eq!(adopted[BASE_NAME], format!("{upstream}:10.0.2-noble"));
    assert_eq!(adopted[BASE_DIGEST], released);
    // The child's own schedule may have fired by then too.
    assert!(
        reason_kinds(&run, "app").contains(&"parent-rebuilt".to_string()),
        "{run:#}"
    );
}

/// A loopback proxy in front of the registry that counts the requests
/// whose path contains `path`.
struct CountingProxy {
    port: u16,
    count: Arc<AtomicUsize>,
}

impl CountingProxy {
    fn start(upstream: &str, path: &str) -> CountingProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let (upstream, path, counted) = (upstream.to_string(), path.to_string(), count.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { continue };
                let (upstream, path, counted) = (upstream.clone(), path.clone(), counted.clone());
                std::thread::spawn(move || {
                    let Some(request) = support::proxy::read_request(&mut client) else {
                        return;
                    };
                    if request.target.contains(&path) {
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                    if let Some(server) =
                        support::proxy::open_upstream(&client, &request, &upstream)
                    {
                        support::proxy::pass_reply(server, client);
                    }
                });
            }
        });
        CountingProxy { port, count }
    }
}

#[test]
fn two_images_tracking_one_upstream_list_its_tags_once_per_run() {
    let stack = Stack::new("track-once");
    publish_releases(&stack);
    let tag_list = format!("/{}-upstream/aspnet/tags/list", stack.namespace);
    let proxy = CountingProxy::start(REGISTRY, &tag_list);
    // The vendor's repository through the proxy: only its requests counted.
    let upstream = stack
        .upstream_repository("aspnet")
        .replace(REGISTRY, &format!("127.0.0.1:{}", proxy.port));
    configure(&stack, &upstream, "");
    stack.write(
        "images/sdk/Dockerfile",
        &format!("FROM {upstream}:10.0.0-noble\nRUN echo sdk > /etc/sdk\n"),
    );
    stack.append_config(
        "[images.sdk]\nversion = \"10.0\"\ncontext = \"images/sdk\"\ntrack = \"10.0.*-noble\"\n",
    );
    stack.golden(&["build", "--all"]).expect(0);
    assert_eq!(proxy.count.load(Ordering::SeqCst), 1, "the build's run");
    // A plan with nothing due remembers golden's own tag lists (confirmed
    // by the floating tags), never the vendor's.
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    assert_eq!(plan["totals"]["up_to_date"], 3, "{plan:#}");
    stack.publish_upstream(
        "aspnet",
        "10.0.2-noble",
        &[("ASPNET_VERSION", "10.0.2")],
        &[],
    );
    // Both images act on the release: observed again without remembered
    // tag lists, and the vendor's list is not asked again.
    proxy.count.store(0, Ordering::SeqCst);
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    for id in ["aspnet", "sdk"] {
        assert_eq!(
            reason_kinds(&plan, id),
            vec!["upstream-released"],
            "{plan:#}"
        );
    }
    assert_eq!(proxy.count.load(Ordering::SeqCst), 1, "the plan's run");
}

#[test]
fn on_schedule_a_held_release_still_sees_its_tag_re_pushed_and_other_reasons_build_from_it() {
    let stack = Stack::new("track-held");
    let upstream = stack.upstream_repository("aspnet");
    publish_releases(&stack);
    configure(
        &stack,
        &upstream,
        "adopt = \"on-schedule\"\nschedule = \"@yearly\"\n",
    );
    stack.golden(&["build", "--all"]).expect(0);
    let aspnet = stack.repository("aspnet");
    assert_eq!(
        labels(&aspnet, "10.0.0")[BASE_NAME],
        format!("{upstream}:10.0.1-noble")
    );
    stack.publish_upstream(
        "aspnet",
        "10.0.2-noble",
        &[("ASPNET_VERSION", "10.0.2")],
        &[],
    );
    // The vendor re-pushes the tag the build was made FROM (an OS fix).
    let fixed = stack.publish_upstream(
        "aspnet",
        "10.0.1-noble",
        &[("ASPNET_VERSION", "10.0.1")],
        &[("os.fix", "1")],
    );
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    let image = entry(&plan, "aspnet");
    assert_eq!(
        reason_kinds(&plan, "aspnet"),
        vec!["base-updated"],
        "{plan:#}"
    );
    assert_eq!(image["reasons"][0]["new"], fixed.as_str(), "{plan:#}");
    assert_eq!(image["upstream"], format!("{upstream}:10.0.1-noble"));
    assert_eq!(image["waiting"]["new"], "10.0.2-noble", "{plan:#}");
    stack.golden(&["build", "--all"]).expect(0);
    let rebuilt = labels(&aspnet, "10.0.1");
    assert_eq!(rebuilt[BASE_NAME], format!("{upstream}:10.0.1-noble"));
    assert_eq!(rebuilt[BASE_DIGEST], fixed);
    // The release still waits for the schedule.
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    let image = entry(&plan, "aspnet");
    assert_eq!(image["decision"], "up-to-date", "{plan:#}");
    assert_eq!(image["waiting"]["new"], "10.0.2-noble", "{plan:#}");

    // A recipe change while the release is held builds FROM the held tag.
    stack.write(
        "images/aspnet/Dockerfile",
        &format!("FROM {upstream}:10.0.0-noble\nRUN echo aspnet 2 > /etc/aspnet\n"),
    );
    let run = stack
        .golden(&["build", "--all", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(
        reason_kinds(&run, "aspnet"),
        vec!["recipe-changed"],
        "{run:#}"
    );
    let changed = labels(&aspnet, "10.0.2");
    assert_eq!(changed[BASE_NAME], format!("{upstream}:10.0.1-noble"));
    assert_eq!(changed[BASE_DIGEST], fixed);
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    assert_eq!(
        entry(&plan, "aspnet")["waiting"]["new"],
        "10.0.2-noble",
        "{plan:#}"
    );
}
