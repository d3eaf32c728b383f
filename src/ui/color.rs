//! Whether colour is wanted on a stream: decided once per stream, from
//! `--color` (`GOLDEN_COLOR`), the environment (`NO_COLOR`,
//! `CLICOLOR_FORCE`, `CLICOLOR`, `TERM=dumb`) and the stream being a
//! terminal. The rest of golden asks the core's [`Palette`].

use std::sync::OnceLock;

pub use crate::report::palette::{Palette, Tone};

/// `--color`: when golden colours its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless the environment says otherwise
    #[default]
    Auto,
    /// Always, in a pipe or a file too (a CI log that renders ANSI)
    Always,
    /// Never
    Never,
}

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Sets `--color` for the process, once, before anything is printed.
pub fn choose(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
}

/// Whether a stream that `is_terminal` gets colour.
#[allow(clippy::disallowed_methods)] // reads the colour variables only
pub fn wanted(is_terminal: bool) -> bool {
    let variable = |name: &str| std::env::var(name).ok();
    decide(
        CHOICE.get().copied().unwrap_or_default(),
        is_terminal,
        &variable,
    )
}

/// The rule: `--color always|never` wins; then `NO_COLOR` set to anything
/// but the empty string (no-color.org) means none; then `CLICOLOR_FORCE`
/// set and not `0` means colour even in a pipe (bixense.com/clicolors);
/// then a terminal gets colour unless it is `TERM=dumb` or `CLICOLOR=0`.
fn decide(
    choice: ColorChoice,
    is_terminal: bool,
    variable: &dyn Fn(&str) -> Option<String>,
) -> bool {
    let set = |name: &str| variable(name).filter(|value| !value.is_empty());
    match choice {
        ColorChoice::Always => return true,
        ColorChoice::Never => return false,
        ColorChoice::Auto => {}
    }
    if set("NO_COLOR").is_some() {
        return false;
    }
    if set("CLICOLOR_FORCE").is_some_and(|value| value != "0") {
        return true;
    }
    let dumb = variable("TERM").is_some_and(|term| term == "dumb");
    let off = set("CLICOLOR").is_some_and(|value| value == "0");
    is_terminal && !dumb && !off
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--color`, on a terminal, the variables set, colour wanted.
    type Case = (
        ColorChoice,
        bool,
        &'static [(&'static str, &'static str)],
        bool,
    );

    #[test]
    fn the_flag_then_no_color_then_clicolor_force_then_the_terminal_decide() {
        let cases: &[Case] = &[
            (ColorChoice::Auto, true, &[], true),
            (ColorChoice::Auto, false, &[], false),
            (ColorChoice::Auto, true, &[("NO_COLOR", "1")], false),
            (ColorChoice::Auto, true, &[("NO_COLOR", "")], true),
            (ColorChoice::Auto, false, &[("CLICOLOR_FORCE", "1")], true),
            (ColorChoice::Auto, false, &[("CLICOLOR_FORCE", "0")], false),
            (
                ColorChoice::Auto,
                false,
                &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
                false,
            ),
            (ColorChoice::Auto, true, &[("TERM", "dumb")], false),
            (ColorChoice::Auto, true, &[("CLICOLOR", "0")], false),
            (ColorChoice::Always, false, &[("NO_COLOR", "1")], true),
            (ColorChoice::Never, true, &[("CLICOLOR_FORCE", "1")], false),
        ];
        for (choice, terminal, variables, expected) in cases {
            let variable = |name: &str| {
                variables
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
            };
            assert_eq!(
                decide(*choice, *terminal, &variable),
                *expected,
                "{choice:?} terminal={terminal} {variables:?}"
            );
        }
    }
}
