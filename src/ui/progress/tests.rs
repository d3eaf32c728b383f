use super::*;

fn started(image: &str, version: &str, engine: Option<&str>) -> Event {
    Event::Started {
        image: image.into(),
        tag: format!("registry.local:5000/golden/{image}:{version}"),
        engine: engine.map(str::to_string),
    }
}

fn finished(image: &str, status: Status, summary: &str) -> Event {
    Event::Finished {
        image: image.into(),
        status,
        summary: summary.into(),
    }
}

fn queued(image: &str) -> Event {
    Event::Queued {
        image: image.into(),
    }
}

/// A run of four images: `runtime` up to date, `base` built, `tools`
/// failed (on engine `b`), `app` skipped as its parent failed.
fn run() -> Vec<Event> {
    vec![
        Event::Planned { total: 3 },
        queued("base"),
        queued("tools"),
        queued("app"),
        finished("runtime", Status::UpToDate, "up to date"),
        started("base", "1.0.3", None),
        Event::Step {
            image: "base".into(),
            step: "Step 2/6 : RUN apt-get update && apt-get install -y ca-certificates curl tzdata && rm -rf /var/lib/apt/lists/*".into(),
        },
        Event::Testing {
            image: "base".into(),
        },
        Event::Pushing {
            image: "base".into(),
        },
        started("tools", "2.1.7", Some("b")),
        finished("base", Status::Built, "built 1.0.3 (1.0, 1, latest) in 2.1s"),
        finished(
            "tools",
            Status::Failed,
            "failed: build of `tools` failed at `Step 3/4 : RUN make`",
        ),
        finished("app", Status::Skipped, "skipped"),
    ]
}

/// What each renderer shows after each event: the plain line [`Lines`]
/// logs, the header of [`Bars`] and the line it prints, plain and in
/// colour (ESC written `\e`).
fn transcript(events: &[Event]) -> String {
    let mut tally = Tally::default();
    let mut text = String::new();
    for event in events {
        let count = tally.apply(event);
        text.push_str(&format!("{event:?}\n"));
        if let Some(line) = line_text(event, count) {
            text.push_str(&format!("  lines:  {line}\n"));
        }
        text.push_str(&format!(
            "  header: {}\n",
            header_text(&tally, Palette::PLAIN)
        ));
        if let Event::Finished {
            image,
            status,
            summary,
        } = event
        {
            for palette in [Palette::PLAIN, Palette::COLOR] {
                let line = finished_line(palette, count, image, *status, summary);
                text.push_str(&format!("  bars:   {}\n", line.replace('\u{1b}', "\\e")));
            }
        }
    }
    text
}

#[test]
fn renderers_show_the_count_the_queue_and_the_result() {
    insta::assert_snapshot!("progress_transcript", transcript(&run()));
}

#[test]
fn the_header_counts_and_names_the_queued_images() {
    let mut tally = Tally::default();
    for event in &run()[..6] {
        tally.apply(event);
    }
    assert_eq!(
        header_text(&tally, Palette::PLAIN),
        "0/3 done, 1 running, 2 queued: tools, app"
    );
    assert_eq!(
        header_text(&tally, Palette::COLOR),
        "\u{1b}[1m0/3 done\u{1b}[0m, 1 running, 2 queued: tools, app"
    );
}

#[test]
fn only_images_due_are_counted_and_a_new_run_starts_over() {
    let mut tally = Tally::default();
    tally.apply(&Event::Planned { total: 1 });
    tally.apply(&queued("base"));
    // Up to date: never queued, so not counted.
    assert_eq!(
        tally.apply(&finished("runtime", Status::UpToDate, "up to date")),
        None
    );
    assert_eq!(tally.queued(), ["base".to_string()]);
    // A promotion finishes straight from the queue.
    assert_eq!(
        tally.apply(&finished("base", Status::Promoted, "moved 1.0 to 1.0.3")),
        Some(Count { done: 1, total: 1 })
    );
    assert!(tally.finished());
    // The same image reported twice counts once.
    assert_eq!(tally.apply(&finished("base", Status::Built, "built")), None);
    // The daemon's next tick.
    tally.apply(&Event::Planned { total: 2 });
    assert_eq!((tally.done(), tally.total()), (0, 2));
    assert!(!tally.finished());
    assert_eq!(Count { done: 3, total: 12 }.to_string(), "[3/12]");
}

#[test]
fn the_engine_is_named_when_there_is_one() {
    assert_eq!(
        started_text("registry.local:5000/golden/base:1.0.3", None),
        "building registry.local:5000/golden/base:1.0.3"
    );
    assert_eq!(
        started_text("registry.local:5000/golden/base:1.0.3", Some("b")),
        "building registry.local:5000/golden/base:1.0.3 on `b`"
    );
}

#[test]
fn a_summary_from_the_registry_cannot_colour_the_terminal() {
    let line = finished_line(
        Palette::COLOR,
        None,
        "base",
        Status::Failed,
        "failed: \u{1b}[2Jgone",
    );
    assert_eq!(line, "base: \u{1b}[31mfailed: \\u{1b}[2Jgone\u{1b}[0m");
}

/// The live lines keep their state: a header while images are due, no
/// bar left behind when the run is over.
#[test]
fn bars_clear_the_header_and_every_line_at_the_end() {
    let bars = Bars::drawn_on(ProgressDrawTarget::hidden(), true);
    let events = run();
    for event in &events[..10] {
        bars.event(event.clone());
    }
    {
        let screen = bars.state.lock().unwrap();
        assert!(screen.header.is_some());
        let mut running: Vec<&String> = screen.bars.keys().collect();
        running.sort();
        assert_eq!(running, ["base", "tools"]);
    }
    for event in &events[10..] {
        bars.event(event.clone());
    }
    let screen = bars.state.lock().unwrap();
    assert!(screen.header.is_none());
    assert!(screen.bars.is_empty());
}

#[test]
fn long_steps_are_cut_to_one_line() {
    assert_eq!(short_step("Step 1/2 : RUN true"), "Step 1/2 : RUN true");
    let long = format!("Step 1/2 : RUN {}", "x".repeat(100));
    assert_eq!(short_step(&long).chars().count(), 72);
    assert!(short_step(&long).ends_with('…'));
}
