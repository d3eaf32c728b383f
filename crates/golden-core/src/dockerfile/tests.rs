#[test]
fn the_final_stage_s_literal_env_is_read() {
    let none = BTreeMap::new();
    let read = |text: &str| env_in_final_stage(text, &none, "ASPNET_VERSION");
    assert_eq!(read("FROM a\nRUN true\n"), EnvSet::Unset);
    assert_eq!(
        read("FROM a\nENV ASPNET_VERSION=10.0.3 OTHER=1\n"),
        EnvSet::Literal("10.0.3".into())
    );
    assert_eq!(
        read("FROM a\nENV ASPNET_VERSION 10.0.4\n"),
        EnvSet::Literal("10.0.4".into())
    );
    assert_eq!(
        read("FROM a\nENV ASPNET_VERSION=\"10.0.5\"\nENV ASPNET_VERSION=10.0.6\n"),
        EnvSet::Literal("10.0.6".into())
    );
    assert_eq!(read("FROM a\nENV ASPNET_VERSION=$V\n"), EnvSet::Computed);
    // An earlier stage's ENV belongs to another image...
    assert_eq!(
        read("FROM a AS build\nENV ASPNET_VERSION=1.0.0\nFROM b\nRUN true\n"),
        EnvSet::Unset
    );
    // ...unless the final stage is built on it.
    assert_eq!(
        read("FROM a AS build\nENV ASPNET_VERSION=1.0.0\nFROM build\nRUN true\n"),
        EnvSet::Literal("1.0.0".into())
    );
    assert_eq!(read("FROM a\nENV ASPNET_VERSIONS=1.0.0\n"), EnvSet::Unset);
}
use super::*;

#[test]
fn context_sources_are_the_plain_paths_copy_and_add_read() {
    let cases: &[(&str, Option<&[&str]>)] = &[
        ("FROM a\nCOPY small.txt /small.txt\n", Some(&["small.txt"])),
        ("FROM a\nRUN true\n", Some(&[])),
        (
            "FROM a\ncopy --chown=1:1 ./dir/ b.txt /srv/\nADD [\"/c d.txt\", \"/x\"]\n",
            Some(&["b.txt", "c d.txt", "dir"]),
        ),
        (
            "FROM a AS build\nCOPY x /x\nFROM a\nCOPY --from=build /x /y\nADD https://example.test/f /f\n",
            Some(&["x"]),
        ),
        ("FROM a\nCOPY a.txt \\\n  b.txt /\n", Some(&["a.txt", "b.txt"])),
        ("FROM a\nONBUILD COPY . /app\nCOPY a /a\n", Some(&["a"])),
        ("FROM a AS b\nONBUILD COPY . /app\nFROM b\nCOPY x /x\n", None),
        ("FROM a\nCOPY . /app\n", None),
        ("FROM a\nCOPY ./ /app\n", None),
        ("FROM a\nCOPY *.txt /app/\n", None),
        ("FROM a\nCOPY f? /app/\n", None),
        ("FROM a\nARG D=x\nCOPY $D /app/\n", None),
        ("FROM a\nCOPY ../up /app/\n", None),
        ("FROM a\nCOPY --link a /a\n", None),
        ("FROM a\nCOPY \"a b\" /a\n", None),
        ("FROM a\nCOPY [\"a\" /a\n", None),
        ("FROM a\nCOPY only\n", None),
        ("FROM a\nCOPY <<EOF /a\nx\nEOF\n", None),
        ("# escape=`\nFROM a\nCOPY a `\n  b /\n", Some(&["a", "b"])),
        ("# escape=`\nFROM a\nCOPY a\\b /\n", None),
        // BuildKit's bind mounts read the context, from `RUN` too.
        ("FROM a\nCOPY a /a\nRUN --mount=type=bind,source=b,target=/b make\n", None),
        ("FROM a\nRUN --mount=target=/src make\n", None),
        ("FROM a AS b\nFROM a\nCOPY a /a\nRUN --mount=from=b,target=/b make\n", Some(&["a"])),
        ("FROM a\nCOPY a /a\nRUN --mount=type=secret,id=t --mount=type=cache,target=/c make\n", Some(&["a"])),
    ];
    for (text, expected) in cases {
        let expected = expected.map(|paths| paths.iter().map(|p| p.to_string()).collect());
        assert_eq!(context_sources(text), expected, "{text}");
    }
}

fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn final_image(text: &str, build_args: &[(&str, &str)]) -> String {
    let dockerfile = Dockerfile::parse(text, &args(build_args)).unwrap();
    match &dockerfile.final_root().base {
        Base::Image(reference) => reference.to_string(),
        Base::Scratch => "scratch".to_string(),
        Base::Stage(_) => unreachable!("final_root follows stages"),
    }
}

#[test]
fn copy_from_names_an_image_unless_it_names_an_earlier_stage() {
    let image = |text: &str| Some(CopySource::Image(Reference::parse(text).unwrap()));
    let cases: Vec<(&str, &str, Option<CopySource>)> = vec![
        ("no --from", "FROM a\nCOPY x /x\n", None),
        (
            "stage name",
            "FROM a AS build\nFROM b\nCOPY --from=build /x /x\n",
            None,
        ),
        (
            "stage name in another case",
            "FROM a AS Build\nFROM b\nCOPY --from=BUILD /x /x\n",
            None,
        ),
        ("stage index", "FROM a\nFROM b\nCOPY --from=0 /x /x\n", None),
        (
            "image",
            "FROM a\nCOPY --from=evil.test/x/y:1 / /\n",
            image("evil.test/x/y:1"),
        ),
        (
            "image after other flags",
            "FROM a\ncopy --chown=1:1 --from=busybox:1 /bin /b\n",
            image("busybox:1"),
        ),
        (
            "a later stage's name is an image",
            "FROM a\nCOPY --from=later / /\nFROM b AS later\n",
            image("later"),
        ),
        (
            "meta arg",
            "ARG SRC=evil.test/x:1\nFROM a\nCOPY --from=${SRC} / /\n",
            image("evil.test/x:1"),
        ),
        (
            "json form",
            "FROM a\nCOPY --from=busybox:2 [\"/a\", \"/b\"]\n",
            image("busybox:2"),
        ),
        (
            "unresolved",
            "FROM a\nARG S\nCOPY --from=$S / /\n",
            Some(CopySource::Unresolved("$S".into())),
        ),
        (
            "a quoted flag name",
            "FROM a\nCOPY --\"from\"=evil.test/x:1 / /\n",
            image("evil.test/x:1"),
        ),
        (
            "an escaped letter in the flag name",
            "FROM a\nCOPY --fr\\om=evil.test/x:1 / /\n",
            image("evil.test/x:1"),
        ),
        (
            "the escape directive's character in the flag name",
            "# escape=`\nFROM a\nCOPY --fr`om=evil.test/x:1 / /\n",
            image("evil.test/x:1"),
        ),
        (
            "a quoted value",
            "FROM a\nCOPY --from='evil.test/x:1' / /\n",
            image("evil.test/x:1"),
        ),
        (
            "after a quoted flag holding a space",
            "FROM a\nCOPY --chown=\"1 1\" --from=evil.test/x:1 / /\n",
            image("evil.test/x:1"),
        ),
        (
            "a flag quote left open",
            "FROM a\nCOPY --chown=\"1 --from=evil.test/x:1 / /\n",
            Some(CopySource::UnreadableFlags(
                "--chown=\"1 --from=evil.test/x:1 / /".into(),
            )),
        ),
        (
            "an ONBUILD trigger",
            "FROM a AS build\nONBUILD COPY --from=build / /\n",
            image("build"),
        ),
        (
            "flags end at a bare --",
            "FROM a\nCOPY -- --from=busybox /\n",
            None,
        ),
        (
            "a quoted word is no flag",
            "FROM a\nCOPY \"--from=busybox\" /\n",
            None,
        ),
        (
            "a path named --from is no flag",
            "FROM a\nCOPY x --from=busybox /\n",
            None,
        ),
    ];
    for (name, text, expected) in cases {
        let dockerfile = Dockerfile::parse(text, &BTreeMap::new()).unwrap();
        let got = dockerfile.copies.first().map(|copy| copy.source.clone());
        assert_eq!(got, expected, "{name}");
    }
    let dockerfile = Dockerfile::parse(
        "FROM a\nRUN x\nCOPY \\\n  --from=b:1 / /\n",
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(dockerfile.copies[0].line, 3);
}

#[test]
fn final_base_is_resolved_through_args_stages_and_syntax() {
    let cases: Vec<(&str, &str, Vec<(&str, &str)>, &str)> = vec![
        ("plain", "FROM busybox:1.36\nRUN true\n", vec![], "busybox:1.36"),
        ("lowercase", "from busybox:1.36 as base\nrun true\n", vec![], "busybox:1.36"),
        ("arg default", "ARG TAG=1.36\nFROM busybox:${TAG}\n", vec![], "busybox:1.36"),
        ("arg overridden", "ARG TAG=1.36\nFROM busybox:$TAG\n", vec![("TAG", "1.37")], "busybox:1.37"),
        ("arg without default", "ARG BASE\nFROM ${BASE:-alpine:3}\n", vec![], "alpine:3"),
        ("arg without default set", "ARG BASE\nFROM ${BASE:-alpine:3}\n", vec![("BASE", "debian:12")], "debian:12"),
        ("undeclared build arg ignored", "ARG TAG=1\nFROM busybox:${TAG}\n", vec![("OTHER", "2")], "busybox:1"),
        ("arg uses arg", "ARG REGISTRY=r.local:5000\nARG BASE=${REGISTRY}/up/busybox\nFROM $BASE:1\n", vec![], "r.local:5000/up/busybox:1"),
        ("multi arg line", "ARG A=busybox B=1.2\nFROM ${A}:${B}\n", vec![], "busybox:1.2"),
        ("quoted arg", "ARG A=\"busy box\"\nARG B='busybox:9'\nFROM $B\n", vec![], "busybox:9"),
        ("continuation", "FROM \\\n  --platform=linux/amd64 \\\n  # a comment\n  busybox:1 \\\n  AS final\n", vec![], "busybox:1"),
        ("final from stage", "FROM busybox:1 AS base\nRUN x\nFROM alpine:3 AS build\nFROM base\n", vec![], "busybox:1"),
        ("stage names are case-insensitive", "FROM busybox:1 AS Base\nFROM BASE\n", vec![], "busybox:1"),
        ("scratch", "FROM busybox AS build\nFROM scratch\nCOPY --from=build /x /x\n", vec![], "scratch"),
        ("escape directive", "# escape=`\nFROM `\n  busybox:2\n", vec![], "busybox:2"),
        ("comments and blank lines", "# syntax=docker/dockerfile:1\n\n# hello\nFROM busybox:3 # not a comment? no: trailing\n", vec![], "busybox:3"),
        ("digest", "FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", vec![], "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
        ("arg after from does not apply", "ARG T=1\nFROM a:$T\nARG T=2\nFROM b:$T\n", vec![], "b:1"),
        ("crlf", "ARG T=4\r\nFROM busybox:$T\r\n", vec![], "busybox:4"),
        ("byte order mark", "\u{feff}FROM busybox:5\n", vec![], "busybox:5"),
        ("byte order mark before a directive", "\u{feff}# escape=`\nFROM `\n  busybox:6\n", vec![], "busybox:6"),
        ("unset arg takes the - word", "ARG BASE\nFROM ${BASE-alpine:3}\n", vec![], "alpine:3"),
        ("empty arg is set for -", "ARG BASE=\nFROM ${BASE-alpine:3}busybox:1\n", vec![], "busybox:1"),
        ("plus word when set", "ARG TAG=x\nFROM busybox${TAG:+:1.36}\n", vec![], "busybox:1.36"),
        ("no plus word when unset", "ARG TAG\nFROM busybox${TAG:+:1.36}\n", vec![], "busybox"),
        ("required and set", "ARG BASE\nFROM ${BASE:?set BASE}\n", vec![("BASE", "debian:12")], "debian:12"),
        ("required unless unset, and set empty", "ARG TAG=\nFROM busybox${TAG?need TAG}\n", vec![], "busybox"),
    ];
    for (name, text, build_args, expected) in cases {
        if name == "comments and blank lines" {
            // A trailing `#` is not a comment: the engine rejects it as extra words.
            assert!(
                Dockerfile::parse(text, &args(&build_args)).is_err(),
                "{name}"
            );
            continue;
        }
        assert_eq!(final_image(text, &build_args), expected, "{name}");
    }
}

#[test]
fn stages_record_names_platforms_and_lines() {
    let text =
        "ARG P=linux/arm64\nFROM --platform=$P busybox:1 AS Build\nRUN make\nFROM \\\n  build\n";
    let dockerfile = Dockerfile::parse(text, &BTreeMap::new()).unwrap();
    assert_eq!(dockerfile.stages.len(), 2);
    let first = &dockerfile.stages[0];
    assert_eq!(first.name.as_deref(), Some("build"));
    assert_eq!(first.platform.as_deref(), Some("linux/arm64"));
    assert_eq!((first.first_line, first.last_line), (2, 2));
    let last = &dockerfile.stages[1];
    assert_eq!(last.base, Base::Stage(0));
    assert_eq!((last.first_line, last.last_line), (4, 5));
    let images: Vec<String> = dockerfile
        .images()
        .map(|(r, l)| format!("{r}@{l}"))
        .collect();
    assert_eq!(images, vec!["busybox:1@2"]);
}

#[test]
fn bad_from_lines_are_errors_with_their_line() {
    let cases: Vec<(&str, DockerfileError)> = vec![
        ("RUN true\n", DockerfileError::NoFrom),
        ("", DockerfileError::NoFrom),
        ("FROM\n", DockerfileError::MissingImage { line: 1 }),
        (
            "\n\nFROM Busybox\n",
            DockerfileError::InvalidReference {
                line: 3,
                text: "Busybox".into(),
                source: ReferenceError::Uppercase("Busybox".into()),
            },
        ),
        (
            "ARG BASE\nFROM $BASE\n",
            DockerfileError::EmptyAfterSubstitution {
                line: 2,
                original: "$BASE".into(),
                variable: "BASE".into(),
            },
        ),
        (
            "FROM busybox AS\n",
            DockerfileError::InvalidFrom {
                line: 1,
                text: "busybox AS".into(),
            },
        ),
        (
            "FROM --pull busybox\n",
            DockerfileError::InvalidFrom {
                line: 1,
                text: "--pull".into(),
            },
        ),
        ("FROM ${BASE\n", DockerfileError::Unterminated { line: 1 }),
        (
            "ARG BASE\nFROM ${BASE:?set BASE to the upstream image}\n",
            DockerfileError::RequiredArgument {
                line: 2,
                variable: "BASE".into(),
                message: "set BASE to the upstream image".into(),
            },
        ),
        (
            "ARG BASE=\nFROM ${BASE:?}\n",
            DockerfileError::RequiredArgument {
                line: 2,
                variable: "BASE".into(),
                message: "`BASE` is not allowed to be empty".into(),
            },
        ),
        (
            "ARG BASE\nFROM ${BASE?}\n",
            DockerfileError::RequiredArgument {
                line: 2,
                variable: "BASE".into(),
                message: "`BASE` is not allowed to be unset".into(),
            },
        ),
        (
            "ARG R\nARG BASE=${R:?R names the registry}/busybox\nFROM $BASE\n",
            DockerfileError::RequiredArgument {
                line: 2,
                variable: "R".into(),
                message: "R names the registry".into(),
            },
        ),
        (
            "FROM \"busybox\n",
            DockerfileError::Unterminated { line: 1 },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            Dockerfile::parse(text, &BTreeMap::new()),
            Err(expected),
            "{text:?}"
        );
    }
}

#[test]
fn pinning_rewrites_only_the_from_and_keeps_line_numbers() {
    let text =
        "ARG B=busybox:1\nFROM \\\n  --platform=linux/amd64 \\\n  $B AS final\nRUN echo hi\n";
    let dockerfile = Dockerfile::parse(text, &BTreeMap::new()).unwrap();
    let stage = dockerfile.final_root().clone();
    let pinned = Reference::parse(
        "busybox:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    )
    .unwrap();
    let rewritten = dockerfile.pin(text, &stage, &pinned);
    assert_eq!(
        rewritten,
        "ARG B=busybox:1\nFROM --platform=linux/amd64 busybox:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS final\n\n\nRUN echo hi\n"
    );
    let reparsed = Dockerfile::parse(&rewritten, &BTreeMap::new()).unwrap();
    assert_eq!(reparsed.final_root().base, Base::Image(pinned));
}

#[test]
fn labels_become_one_quoted_instruction() {
    let labels: BTreeMap<String, String> = [
        ("a.b", "plain"),
        ("quote", "say \"hi\" for $HOME \\ done"),
        ("multi", "line\nbreak"),
        ("empty", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (text, rest) = with_labels("FROM scratch", &labels);
    assert_eq!(
        text,
        "FROM scratch\nLABEL \"a.b\"=\"plain\" \"empty\"=\"\" \"quote\"=\"say \\\"hi\\\" for \\$HOME \\\\ done\"\n"
    );
    assert_eq!(rest.keys().collect::<Vec<_>>(), vec!["multi"]);
    let (text, _) = with_labels("# escape=`\nFROM scratch\n", &labels);
    assert!(
        text.ends_with("\"quote\"=\"say `\"hi`\" for `$HOME \\ done\"\n"),
        "{text}"
    );
    let (text, rest) = with_labels("FROM scratch\n", &BTreeMap::new());
    assert_eq!((text.as_str(), rest.len()), ("FROM scratch\n", 0));
    // A last instruction left open would take the LABEL line as its own.
    let open = "FROM scratch\nRUN true \\\n# note\n\n";
    let (text, rest) = with_labels(open, &labels);
    assert_eq!((text.as_str(), rest), (open, labels.clone()));
}

#[test]
fn heredoc_bodies_are_not_instructions() {
    let cases: &[(&str, &str, usize)] = &[
        // A body line that reads as FROM starts no stage.
        (
            "FROM a AS build\nRUN <<EOF\nFROM evil\nARG X\nEOF\nFROM b\n",
            "b",
            2,
        ),
        ("FROM a\nRUN <<-EOF\n\tFROM evil\n\tEOF\nFROM b\n", "b", 2),
        (
            "FROM a\nRUN cat <<\"EOF\" > /x\nFROM evil\nEOF\nFROM b\n",
            "b",
            2,
        ),
        (
            "FROM a\nCOPY <<one <<two /dest/\nFROM evil\none\nFROM worse\ntwo\nFROM b\n",
            "b",
            2,
        ),
        (
            "FROM a\nrun 3<<EOF \\\n  cat\n# FROM evil\nFROM evil\nEOF\nFROM b\n",
            "b",
            2,
        ),
        // Not heredocs: quoted, inside a word, or on another instruction.
        ("FROM a\nRUN echo \"<<EOF\"\nFROM b\n", "b", 2),
        ("FROM a\nENV A=<<EOF\nFROM b\n", "b", 2),
        ("FROM a\nRUN echo x<<EOF\nFROM b\n", "b", 2),
        // An unterminated heredoc runs to the end.
        ("FROM a\nRUN <<EOF\nFROM b\n", "a", 1),
    ];
    for (text, image, stages) in cases {
        let dockerfile = Dockerfile::parse(text, &BTreeMap::new()).unwrap();
        assert_eq!(final_image(text, &[]), *image, "{text}");
        assert_eq!(dockerfile.stages.len(), *stages, "{text}");
    }
    let declared = Dockerfile::declared_args("FROM a\nRUN <<EOF\nARG X\nEOF\nARG Y\n");
    let names: Vec<&str> = declared.iter().map(|arg| arg.name.as_str()).collect();
    assert_eq!(names, ["Y"]);
    assert_eq!(declared[0].line, 5);
}

#[test]
fn buildkit_uses_name_each_flag_heredoc_and_directive_with_its_line() {
    let cases: &[(&str, &[&str])] = &[
        ("FROM a\nRUN make\nCOPY --from=b --chown=1:1 x /x\nADD --chown=1 y /y\n", &[]),
        (
            "# syntax=docker/dockerfile:1\nFROM a\nRUN --mount=type=cache,target=/c \\\n  --network=none --security=insecure make\n",
            &[
                "the `# syntax=docker/dockerfile:1` parser directive on line 1",
                "`RUN --mount` on line 3",
                "`RUN --network` on line 3",
                "`RUN --security` on line 3",
            ],
        ),
        (
            "FROM a\nCOPY --link --chmod=755 x /x\nADD --checksum=sha256:0 https://e.test/f /f\nadd --keep-git-dir=true git@e.test:r.git /r\n",
            &[
                "`COPY --link` on line 2",
                "`COPY --chmod` on line 2",
                "`ADD --checksum` on line 3",
                "`ADD --keep-git-dir` on line 4",
            ],
        ),
        (
            "FROM a\nRUN <<EOF\nRUN --mount=type=secret,id=x cat\nEOF\nCOPY <<-\"END\" /f\n\tx\n\tEND\n",
            &["the heredoc `RUN <<EOF` on line 2", "the heredoc `COPY <<-\"END\"` on line 5"],
        ),
        // A comment that is no directive, and triggers of child builds.
        ("# note\n# syntax=x\nFROM a\nONBUILD RUN --mount=type=cache,target=/c make\n", &[]),
        ("# escape=`\n# syntax=docker/dockerfile:1.7\nFROM a\n", &["the `# syntax=docker/dockerfile:1.7` parser directive on line 2"]),
    ];
    for (text, expected) in cases {
        let uses: Vec<String> = buildkit_uses(text)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(uses, *expected, "{text}");
        let first = needs_buildkit(text).map(|first| first.to_string());
        assert_eq!(first.as_deref(), expected.first().copied(), "{text}");
    }
}

#[test]
fn secret_mounts_name_the_id_buildkit_asks_for() {
    let text = "FROM a\n\
        RUN --mount=type=secret,id=nuget_token dotnet restore\n\
        RUN --mount=type=secret,target=/run/secrets/npmrc,required npm ci\n\
        RUN --mount=TYPE=Secret,source=pip.conf,required=false \\\n  --mount=type=cache,target=/c pip install\n\
        RUN --mount=type=secret,id=$TOKEN_ID,required=true make\n\
        RUN --mount=\"type=secret,id=quoted,target=/a,b\" make\n\
        RUN --mount=type=secret make\n\
        RUN --mount=type=cache,id=not-a-secret,target=/c make\n\
        RUN <<EOF\nRUN --mount=type=secret,id=in_a_body cat\nEOF\n";
    let mounts: Vec<(String, Option<bool>, usize, bool)> = secret_mounts(text)
        .into_iter()
        .map(|m| (m.id.clone(), m.required, m.line, m.is_literal()))
        .collect();
    let expected = [
        ("nuget_token", None, 2, true),
        ("npmrc", Some(true), 3, true),
        ("pip.conf", Some(false), 4, true),
        ("$TOKEN_ID", Some(true), 6, false),
        ("quoted", None, 7, true),
    ];
    let expected: Vec<(String, Option<bool>, usize, bool)> = expected
        .iter()
        .map(|(id, required, line, literal)| (id.to_string(), *required, *line, *literal))
        .collect();
    assert_eq!(mounts, expected);
}

#[test]
fn buildkit_reading_of_random_dockerfiles_never_panics_and_stays_in_the_file() {
    let pieces = [
        "RUN ",
        "COPY ",
        "ADD ",
        "FROM a",
        "ONBUILD ",
        "--mount=",
        "type=secret",
        "type=bind",
        "id=",
        "target=/run/secrets/",
        "required",
        "=false",
        ",",
        "\"",
        "'",
        "<<EOF",
        "<<-E",
        "3<<",
        "EOF",
        "E",
        "\t",
        " ",
        "\n",
        "\\\n",
        "# syntax=x",
        "# escape=`",
        "`\n",
        "--link",
        "--chmod=7",
        "$X",
        "\u{feff}",
        "\r\n",
        "[\"sh\"]",
    ];
    for seed in 0..2000 {
        let mut random = fastrand::Rng::with_seed(seed);
        let text: String = (0..random.usize(0..40))
            .map(|_| pieces[random.usize(0..pieces.len())])
            .collect();
        let lines = text.lines().count().max(1);
        for found in buildkit_uses(&text) {
            assert!(
                found.line >= 1 && found.line <= lines,
                "{text:?}: {found:?}"
            );
        }
        for mount in secret_mounts(&text) {
            assert!(
                mount.line >= 1 && mount.line <= lines,
                "{text:?}: {mount:?}"
            );
            assert!(!mount.id.is_empty(), "{text:?}: {mount:?}");
        }
        let _ = context_sources(&text);
        let _ = Dockerfile::parse(&text, &BTreeMap::new());
    }
}
