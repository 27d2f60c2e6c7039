//! Command-line parsing errors: exit codes, and the environment variable a bad value came
//! from.
//!
//! clap exits 2 on a usage error, which CI would read as `plan`'s "changes pending"; here a
//! usage error exits 1 like any other error, and `--help`/`--version` exit 0.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};

use crate::config::Cli;

/// Exit code of a usage error (unknown flag, bad value, missing flag).
pub const EXIT_USAGE: u8 = 1;

/// Parses the process's arguments; on failure prints the error (or the help) and returns
/// the exit code to end with.
pub fn parse() -> Result<Cli, ExitCode> {
    parse_from(std::env::args_os()).map_err(|(message, code)| {
        if code == 0 {
            print!("{message}");
        } else {
            eprint!("{message}");
        }
        ExitCode::from(code)
    })
}

/// Parses `args`; an error is the text to print and the exit code.
pub fn parse_from<I, T>(args: I) -> Result<Cli, (String, u8)>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut command = Cli::command();
    let error = match command.try_get_matches_from_mut(&args) {
        Ok(mut matches) => match Cli::from_arg_matches_mut(&mut matches) {
            Ok(cli) => return Ok(cli),
            Err(e) => e.with_cmd(&command),
        },
        Err(e) => e,
    };
    let code = match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
        _ => EXIT_USAGE,
    };
    let mut message = error.render().to_string();
    if let Some(variable) = environment_source(&error, &args) {
        message.push_str(&format!(
            "note: the value comes from the environment variable {variable}\n"
        ));
    }
    Err((message, code))
}

/// The `ECS_INGRESS_*` variable that supplied the value an error is about: the flag has
/// one, it is set, and the flag is not on the command line.
fn environment_source(error: &clap::Error, args: &[OsString]) -> Option<String> {
    let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg.strip_prefix("--")?.split([' ', '=']).next()?;
    let on_command_line = args.iter().any(|a| {
        a.to_str()
            .is_some_and(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")))
    });
    if on_command_line {
        return None;
    }
    let variable = env_of(&Cli::command(), long)?;
    std::env::var_os(&variable).map(|_| variable)
}

/// The environment variable of flag `--long` in `command` or any of its subcommands.
fn env_of(command: &clap::Command, long: &str) -> Option<String> {
    command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .or_else(|| command.get_subcommands().find_map(|sub| env_of(sub, long)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTENER: &str =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/internal/abc/def";

    #[test]
    fn usage_errors_exit_1_and_help_exits_0() {
        let (_, code) = parse_from(["ecs-ingress", "plan", "--no-such-flag"]).unwrap_err();
        assert_eq!(code, EXIT_USAGE);
        let (_, code) = parse_from(["ecs-ingress", "--help"]).unwrap_err();
        assert_eq!(code, 0);
        let (_, code) = parse_from(["ecs-ingress", "--version"]).unwrap_err();
        assert_eq!(code, 0);
    }

    #[test]
    fn a_bad_value_on_the_command_line_names_no_variable() {
        let (message, code) = parse_from([
            "ecs-ingress",
            "plan",
            "--cluster",
            "main",
            "--listener",
            LISTENER,
            "--interval",
            "soon",
        ])
        .unwrap_err();
        assert_eq!(code, EXIT_USAGE);
        assert!(message.contains("--interval"), "{message}");
        assert!(!message.contains("ECS_INGRESS_INTERVAL"), "{message}");
    }

    #[test]
    fn flags_map_to_their_variables() {
        let command = Cli::command();
        assert_eq!(
            env_of(&command, "interval").as_deref(),
            Some("ECS_INGRESS_INTERVAL")
        );
        assert_eq!(
            env_of(&command, "dry-run").as_deref(),
            Some("ECS_INGRESS_DRY_RUN")
        );
        assert_eq!(env_of(&command, "no-such-flag"), None);
    }
}
