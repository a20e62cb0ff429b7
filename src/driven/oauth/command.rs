//! `provider = "command"`: a command prints the access token (for setups klachtd does not
//! know, e.g. a token broker). It runs for every login, so it should cache tokens itself.

use std::io::Read;
use std::time::{Duration, Instant};

use super::{Fetched, TokenError};
use crate::config::oauth::OAuth2;

pub struct TokenCommand {
    command: String,
    timeout: Duration,
}

impl TokenCommand {
    pub fn new(o: &OAuth2) -> Self {
        Self { command: o.token_command.clone().unwrap_or_default(), timeout: o.timeout() }
    }

    pub async fn fetch(&self) -> Result<Fetched, TokenError> {
        let (command, timeout) = (self.command.clone(), self.timeout);
        let output =
            tokio::task::spawn_blocking(move || run(&command, timeout)).await.map_err(|e| TokenError::Unavailable(format!("token_command: {e}")))??;
        let token = output.trim();
        if token.is_empty() || token.contains(char::is_whitespace) {
            return Err(TokenError::Unavailable("token_command printed no token (one line with the access token was expected)".into()));
        }
        Ok(Fetched { token: token.to_string(), expires_in: None })
    }
}

/// Runs `sh -c command` with a time limit; its standard output, or an error that quotes the
/// first line of its standard error (never its output, which may be half a token).
fn run(command: &str, timeout: Duration) -> Result<String, TokenError> {
    let mut child = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| TokenError::Unavailable(format!("token_command cannot start: {e}")))?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TokenError::Unavailable(format!("token_command did not finish within {timeout:?}")));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(TokenError::Unavailable(format!("token_command: {e}"))),
        }
    };
    let output = out.join().unwrap_or_default();
    let errors = err.join().unwrap_or_default();
    if !status.success() {
        let first = errors.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(TokenError::Unavailable(format!("token_command failed ({status}): {}", crate::domain::text::single_line(first, 200))));
    }
    Ok(output)
}
