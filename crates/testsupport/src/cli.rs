//! One-shot commands run to completion (`leadrouter import …`, the load generator),
//! ripgrep `TestCommand` style: every expectation that fails prints the command line, the
//! exit code, stdout and stderr.

use std::process::{Command, Stdio};

/// A finished command.
pub struct Cli {
    pub command: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Cli {
    /// Run `program` with `args`, stdin closed. The variables that would point the
    /// leadrouter CLI at a real service (`LEADROUTER_URL`, `LEADROUTER_ADMIN_KEYS`,
    /// `LEADROUTER_ADMIN_KEY`, `LEADROUTER_CONFIG`) are removed, so only the arguments
    /// decide where it goes.
    pub fn run(program: &str, args: &[&str]) -> Cli {
        Cli::run_in(program, args, &[], None)
    }

    /// [`Cli::run`] with `env` set (after the removals) and, if given, in folder `dir`.
    pub fn run_in(
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
        dir: Option<&std::path::Path>,
    ) -> Cli {
        let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        let command = format!("{}{program} {}", shown.concat(), args.join(" "));
        let mut cmd = Command::new(program);
        cmd.args(args);
        for k in [
            "LEADROUTER_URL",
            "LEADROUTER_ADMIN_KEYS",
            "LEADROUTER_ADMIN_KEY",
            "LEADROUTER_CONFIG",
        ] {
            cmd.env_remove(k);
        }
        cmd.envs(env.iter().copied());
        if let Some(d) = dir {
            cmd.current_dir(d);
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{command}`: {e}"));
        Cli {
            command,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panic with `msg` and everything the command said.
    pub fn fail(&self, msg: &str) -> ! {
        panic!(
            "{msg}\n--- command ---\n{}\n--- exit code: {:?} ---\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }

    pub fn expect_code(self, code: i32) -> Self {
        if self.code != Some(code) {
            self.fail(&format!("expected exit code {code}"));
        }
        self
    }

    /// Expect a failure: any exit other than 0 (a signal counts as failing).
    pub fn expect_failure(self) -> Self {
        if self.code == Some(0) {
            self.fail("expected the command to fail");
        }
        self
    }

    /// Assert with the full context on failure.
    pub fn check(&self, ok: bool, what: &str) {
        if !ok {
            self.fail(what);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;

    #[test]
    fn a_command_reports_code_and_output() {
        let out = Cli::run("sh", &["-c", "echo out; echo err >&2; exit 3"]).expect_code(3);
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
    }

    #[test]
    #[should_panic(expected = "--- stderr ---\nerr")]
    fn a_wrong_code_prints_the_output() {
        Cli::run("sh", &["-c", "echo err >&2; exit 1"]).expect_code(0);
    }
}
