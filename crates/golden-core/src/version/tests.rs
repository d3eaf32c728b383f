use super::*;

fn exact(text: &str) -> Exact {
    text.parse().unwrap()
}

#[test]
fn lines_parse_only_major_minor() {
    for good in ["8.0", "0.1", "10.22", "1.4"] {
        assert_eq!(good.parse::<Line>().unwrap().to_string(), good);
    }
    for bad in [
        "8", "8.0.1", "v8.0", "8.x", "08.0", "8.00", "", ".", "8.", "-1.0", " 8.0",
    ] {
        assert_eq!(
            bad.parse::<Line>(),
            Err(VersionError::NotALine(bad.into())),
            "{bad}"
        );
    }
}

#[test]
fn next_build_compares_numbers_not_text() {
    let line: Line = "2.1".parse().unwrap();
    let tags = [
        "2.1.9",
        "2.1.10",
        "2.1",
        "latest",
        "2.2.0",
        "2.1.x",
        "1.4.20",
        "1.4.99999999999999999999",
    ];
    let versions = exact_versions(tags);
    assert_eq!(next_build(line, &versions), Ok(exact("2.1.11")));
    assert_eq!(
        next_build("3.0".parse().unwrap(), &versions),
        Ok(exact("3.0.0"))
    );
    assert_eq!(next_build(line, &[]), Ok(exact("2.1.0")));
}

#[test]
fn a_tag_at_or_past_the_highest_build_number_stops_numbering_and_is_named() {
    let line: Line = "1.0".parse().unwrap();
    assert_eq!(
        next_build(line, &exact_versions(["1.0.1", "1.0.4294967294"])),
        Ok(exact("1.0.4294967295"))
    );
    for (tags, named) in [
        (vec!["1.0.1", "1.0.4294967295"], "1.0.4294967295"),
        (vec!["1.0.1", "1.0.4294967296"], "1.0.4294967296"),
        (
            vec!["1.0.1", "1.0.18446744073709551615"],
            "1.0.18446744073709551615",
        ),
    ] {
        let versions = exact_versions(tags.iter().copied());
        assert!(
            versions.iter().any(|v| v.to_string() == named),
            "{named} is listed, not overlooked"
        );
        let error = next_build(line, &versions).unwrap_err();
        assert_eq!(
            error,
            NumberingError::BuildNumbers {
                line,
                tag: Tag::from_valid(named.to_string())
            }
        );
        let text = crate::hint::text_of(&error);
        assert!(text.contains(&format!("`{named}`")), "{text}");
        assert!(text.contains("hint: "), "{text}");
    }
    // Other lines do not care.
    let versions = exact_versions(["1.0.4294967296", "1.1.3"]);
    assert_eq!(
        next_build("1.1".parse().unwrap(), &versions),
        Ok(exact("1.1.4"))
    );
}

#[test]
fn a_marker_generation_at_the_top_is_refused_not_wrapped() {
    let tags = ["1.0.1", "1.0.1-restored.18446744073709551615"];
    let error = next_marker(tags, exact("1.0.1"), Marker::Withdrawn).unwrap_err();
    assert_eq!(
        error,
        NumberingError::MarkerGenerations {
            version: exact("1.0.1"),
            tag: Tag::from_valid("1.0.1-restored.18446744073709551615".to_string())
        }
    );
    assert!(crate::hint::text_of(&error).contains("hint: delete the tag"));
    assert_eq!(
        next_marker(
            ["1.0.1-withdrawn.18446744073709551614"],
            exact("1.0.1"),
            Marker::Restored
        ),
        Ok(Tag::from_valid(
            "1.0.1-restored.18446744073709551615".to_string()
        ))
    );
}

/// Withdrawn versions when every marker counts.
fn withdrawn_versions<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<Exact> {
    withdrawn_in(&marker_states(&marker_tags(tags), |_, _| true))
}

#[test]
fn only_the_markers_golden_wrote_say_the_state() {
    let tags = [
        "1.0.1",
        "1.0.2",
        "1.0.2-withdrawn",
        "1.0.2-restored.1",
        "1.0.1-withdrawn.7",
    ];
    let all = marker_tags(tags);
    assert_eq!(
        all[&exact("1.0.2")]
            .iter()
            .map(|(_, _, tag)| tag.as_str())
            .collect::<Vec<_>>(),
        ["1.0.2-restored.1", "1.0.2-withdrawn"],
        "newest first"
    );
    // `1.0.1-withdrawn.7` and `1.0.2-restored.1` were pushed by someone else.
    let golden = ["1.0.2-withdrawn"];
    let states = marker_states(&all, |_, tag| golden.contains(&tag));
    assert_eq!(withdrawn_in(&states), vec![exact("1.0.2")]);
    assert_eq!(
        states.get(&exact("1.0.1")),
        None,
        "a foreign marker says nothing"
    );
    // The next marker still goes above every tag, so none is written over.
    assert_eq!(
        next_marker(tags, exact("1.0.1"), Marker::Restored),
        Ok(Tag::from_valid("1.0.1-restored.8".to_string()))
    );
}

#[test]
fn tags_select_lines() {
    let line: Line = "8.0".parse().unwrap();
    for (tag, follows) in [
        (None, true),
        (Some("latest"), true),
        (Some("8"), true),
        (Some("9"), false),
        (Some("8.0"), true),
        (Some("8.0.3"), true),
        (Some("8.1.0"), false),
        (Some("v8"), false),
    ] {
        assert_eq!(TagTarget::parse(tag).follows(line), follows, "{tag:?}");
    }
    assert_eq!(
        TagTarget::parse(Some("8.0.3")),
        TagTarget::Exact(exact("8.0.3"))
    );
}

#[test]
fn withdrawn_builds_are_not_released() {
    let tags = [
        "8.0.17",
        "8.0.18",
        "8.0.19",
        "8.0.18-withdrawn",
        "8.0.19-withdrawn",
        "8.0-withdrawn",
        "x-withdrawn",
        "8.0",
    ];
    let versions = exact_versions(tags);
    let withdrawn = withdrawn_versions(tags);
    assert_eq!(withdrawn, vec![exact("8.0.18"), exact("8.0.19")]);
    assert_eq!(versions.len(), 3, "markers are not exact versions");
    let line = "8.0".parse().unwrap();
    assert_eq!(
        release_in_line(line, &versions, &withdrawn),
        Some(exact("8.0.17"))
    );
    assert_eq!(release_in_line(line, &versions, &[]), Some(exact("8.0.19")));
    assert_eq!(next_build(line, &versions), Ok(exact("8.0.20")));
    assert_eq!(
        next_marker(tags, exact("8.0.17"), Marker::Withdrawn).unwrap(),
        "8.0.17-withdrawn"
    );
    assert_eq!(
        next_marker(tags, exact("8.0.19"), Marker::Restored).unwrap(),
        "8.0.19-restored.1"
    );
    assert_eq!(
        TagTarget::parse(Some("8.0.19-withdrawn")),
        TagTarget::Unknown
    );
}

#[test]
fn a_newer_marker_undoes_an_older_one() {
    let tags = [
        "1.0.1",
        "1.0.2",
        "1.0.1-withdrawn",
        "1.0.1-restored.1",
        "1.0.2-withdrawn",
        "1.0.2-restored.1",
        "1.0.2-withdrawn.2",
        "1.0.2-restored.01",
        "1.0.2-restored",
        "1.0.2-withdrawn.x",
    ];
    assert_eq!(withdrawn_versions(tags), vec![exact("1.0.2")]);
    assert_eq!(
        next_marker(tags, exact("1.0.2"), Marker::Restored).unwrap(),
        "1.0.2-restored.3"
    );
    assert_eq!(
        next_marker(tags, exact("1.0.1"), Marker::Withdrawn).unwrap(),
        "1.0.1-withdrawn.2"
    );
    assert_eq!(
        parse_marker("1.0.2-withdrawn.2"),
        Some((exact("1.0.2"), 2, Marker::Withdrawn))
    );
    assert_eq!(parse_marker("1.0.2-restored"), None);
    assert_eq!(parse_marker("1.0.2"), None);
}

#[test]
fn floating_tags_move_forward_only() {
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        ("1.0.0", vec![], vec!["1.0", "1", "latest"]),
        ("2.1.1", vec!["2.1.0", "1.4.0"], vec!["2.1", "2", "latest"]),
        ("1.4.1", vec!["2.1.0", "1.4.0"], vec!["1.4", "1"]),
        ("2.0.3", vec!["2.1.0", "2.0.2"], vec!["2.0"]),
        ("2.1.0", vec!["2.0.5", "1.9.9"], vec!["2.1", "2", "latest"]),
        ("1.9.0", vec!["1.10.0"], vec!["1.9"]),
        ("3.0.0", vec!["2.9.0", "10.0.0"], vec!["3.0", "3"]),
    ];
    for (new, existing, expected) in cases {
        let versions: Vec<Exact> = existing.iter().map(|v| exact(v)).collect();
        assert_eq!(
            floating_tags(exact(new), &versions),
            expected,
            "{new} over {existing:?}"
        );
    }
}

#[test]
fn upstream_builds_read_order_and_number_by_version_then_revision() {
    for text in [
        "10.0.3-r1",
        "10.0.3-r12",
        "11.0.0-preview.7-r2",
        "11.0.0-rc.1.25-r1",
    ] {
        let version = exact(text);
        assert_eq!(version.to_string(), text);
        assert!(Versioning::Upstream.names(&version), "{text}");
        assert!(!Versioning::Line.names(&version), "{text}");
    }
    for not in [
        "10.0.3-r0",
        "10.0.3-r01",
        "10.0.3-r",
        "10.0-r1",
        "10.0.3-x-r1.2",
        "v10.0.3-r1",
    ] {
        assert!(not.parse::<Exact>().is_err(), "{not}");
    }
    let mut versions = [
        "10.0.4-r1",
        "10.0.3-r9",
        "10.0.3-r10",
        "11.0.0-r1",
        "11.0.0-preview.7-r3",
        "11.0.0-preview.10-r1",
        "11.0.0-rc.1-r1",
        "10.0.10-r1",
    ]
    .map(exact);
    versions.sort();
    assert_eq!(
        versions.map(|v| v.to_string()),
        [
            "10.0.3-r9",
            "10.0.3-r10",
            "10.0.4-r1",
            "10.0.10-r1",
            "11.0.0-preview.7-r3",
            "11.0.0-preview.10-r1",
            "11.0.0-rc.1-r1",
            "11.0.0-r1",
        ]
    );
    let tags = [
        "10.0.3-r1",
        "10.0.3-r2",
        "10.0.3",
        "10.0",
        "10.0.2-r7",
        "10.0.3-r5-withdrawn",
    ];
    let builds = Versioning::Upstream.exact_versions(tags);
    assert_eq!(
        builds.len(),
        3,
        "floating X.Y.Z and markers are not builds: {builds:?}"
    );
    assert_eq!(Versioning::Line.exact_versions(tags), vec![exact("10.0.3")]);
    let upstream: UpstreamVersion = "10.0.3".parse().unwrap();
    assert_eq!(next_revision(upstream, &builds), Ok(exact("10.0.3-r3")));
    assert_eq!(
        next_revision("10.0.4".parse().unwrap(), &builds),
        Ok(exact("10.0.4-r1"))
    );
    let top = Versioning::Upstream.exact_versions(["10.0.3-r4294967295"]);
    assert!(matches!(
        next_revision(upstream, &top),
        Err(NumberingError::Revisions { .. })
    ));
    assert_eq!(exact("10.0.3-r2").describe(), "10.0.3-r2 (upstream 10.0.3)");
    assert_eq!(exact("10.0.3").describe(), "10.0.3");
    assert_eq!(exact("10.0.3-r2").upstream().unwrap().tag(), "10.0.3");
    assert_eq!(
        TagTarget::parse(Some("11.0.0-preview.1")),
        TagTarget::Upstream("11.0.0-preview.1".parse().unwrap())
    );
    assert!(TagTarget::parse(Some("10.0.3-r2")).follows("10.0".parse().unwrap()));
}

#[test]
fn a_prerelease_takes_major_and_latest_only_when_listed() {
    let all = Floating::allowed(&exact("10.0.3-r1"), None);
    assert_eq!(all, Floating::ALL);
    let preview = exact("11.0.0-preview.1-r1");
    assert_eq!(
        Floating::allowed(&preview, None),
        [Floating::Upstream, Floating::Line]
    );
    assert_eq!(
        Floating::allowed(&preview, Some(&[Floating::Line, Floating::Latest])),
        [Floating::Line, Floating::Latest]
    );
    assert_eq!(
        Floating::allowed(&exact("10.0.3"), None),
        [Floating::Line, Floating::Major, Floating::Latest],
        "a counted build has no X.Y.Z floating tag"
    );
}
