//! Passwords as the configuration gives them: inline, in a file (systemd's credentials), or in
//! an environment variable; and the PostgreSQL URL that carries one.

use std::path::Path;

use super::SecretError;

/// A password given inline, in a file, or in an environment variable (exactly one).
/// (Inlined into each section: serde cannot combine `flatten` with `deny_unknown_fields`.)
#[derive(Debug, Clone, Copy)]
pub struct Secret<'a> {
    pub password: Option<&'a str>,
    pub password_file: Option<&'a Path>,
    pub password_env: Option<&'a str>,
}

impl Secret<'_> {
    /// The password, read from where the configuration says. `section` names the key in errors.
    pub fn resolve(&self, section: &str) -> Result<String, SecretError> {
        if let Some(p) = self.password {
            return Ok(p.to_string());
        }
        if let Some(path) = self.password_file {
            let text = std::fs::read_to_string(path).map_err(|source| SecretError::File {
                key: format!("{section}.password_file"),
                path: path.to_path_buf(),
                source,
            })?;
            return Ok(text.trim_end_matches(['\r', '\n']).to_string());
        }
        if let Some(var) = &self.password_env {
            return std::env::var(var).map_err(|_| SecretError::Env { key: format!("{section}.password_env"), var: var.to_string() });
        }
        Ok(String::new())
    }
}

/// `postgres://user@host/db` with `password` after the user; `None` if the URL has no user
/// or already carries a password.
pub(super) fn with_password(url: &str, password: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    let user = &rest[..at];
    if user.is_empty() || user.contains(':') {
        return None;
    }
    let encoded: String =
        password.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
    Some(format!("{scheme}://{user}:{encoded}{}", &rest[at..]))
}
