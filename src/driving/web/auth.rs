//! Sign-in without passwords: single-use links bound to the browser that asked, sessions for a
//! working day, CSRF tokens, and the rate limiter of the sign-in form. Tokens are 256 random
//! bits from ring; only their SHA-256 hashes are stored.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use ring::rand::{SecureRandom, SystemRandom};

// `__Host-` names: the browser takes such a cookie only with Secure, Path=/ and no Domain, so
// neither a sibling domain nor plain HTTP can set or shadow it. (Chromium and Firefox count
// http://127.0.0.1 and http://localhost as secure, so the loopback workspace works too.)

/// The cookie with the random value of a browser that asks for a sign-in link.
pub const BROWSER_COOKIE: &str = "__Host-klachtd_browser";
/// The session cookie.
pub const SESSION_COOKIE: &str = "__Host-klachtd_session";
/// The state of a sign-in at the organisation's identity provider (OpenID Connect), which comes
/// back from the provider's site: SameSite=Lax, for ten minutes.
pub const OIDC_COOKIE: &str = "__Host-klachtd_oidc";
/// Where a browser that was sent to sign in wanted to go (a path of ours, hex-encoded), for
/// as long as a sign-in takes: SameSite=Lax, as it must come back from the identity provider.
pub const NEXT_COOKIE: &str = "__Host-klachtd_next";
/// How long a sign-in link works.
pub const LINK_VALID: Duration = Duration::from_secs(15 * 60);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh unguessable token: 256 bits from the system's CSPRNG, as 64 hex digits.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    // SystemRandom reads the OS generator; it fails only if the OS has none.
    SystemRandom::new().fill(&mut bytes).expect("the operating system's random generator");
    hex(&bytes)
}

/// The SHA-256 of a token, as stored (and looked up) in the database.
pub fn hash(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

/// The CSRF token of the sign-in form, derived from the browser cookie (there is no session yet).
pub fn sign_in_csrf(browser: &str) -> String {
    hash(&format!("sign-in-form:{browser}"))
}

/// Compares a submitted CSRF token with the expected one without an early exit.
pub fn csrf_matches(expected: &str, submitted: Option<&str>) -> bool {
    let Some(submitted) = submitted else { return false };
    // Comparing the hashes keeps the comparison's time independent of where they differ.
    let (a, b) = (hash(expected), hash(submitted));
    a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0 && !expected.is_empty()
}

/// Whether a token looks like one of ours (so that nothing else is hashed and looked up).
pub fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| well_formed(v))
}

/// A `Set-Cookie` value: Secure, HttpOnly, SameSite=Strict, for the whole site (`__Host-`).
pub fn set_cookie(name: &str, value: &str, max_age: Duration) -> String {
    set_cookie_same_site(name, value, max_age, "Strict")
}

/// A `Set-Cookie` value as [`set_cookie`] with another SameSite (`Lax` for one that must come
/// back on the identity provider's redirect).
pub fn set_cookie_same_site(name: &str, value: &str, max_age: Duration, same_site: &str) -> String {
    format!("{name}={value}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite={same_site}", max_age.as_secs())
}

/// Adds `Set-Cookie` with the browser's random value, for 30 days.
pub fn set_browser_cookie(response: &mut axum::response::Response, browser: &str) {
    add_cookie(response, &set_cookie(BROWSER_COOKIE, browser, Duration::from_secs(30 * 86_400)));
}

/// Adds a `Set-Cookie` header (a value made by [`set_cookie`]) to `response`.
pub fn add_cookie(response: &mut axum::response::Response, cookie: &str) {
    if let Ok(v) = axum::http::HeaderValue::from_str(cookie) {
        response.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
}

/// A `Set-Cookie` that remembers `target` (the path and query a browser asked for before it
/// was signed in) for the sign-in; `None` for a target that is not a page of ours.
pub fn next_cookie(target: &str) -> Option<String> {
    local_target(target)?;
    Some(set_cookie_same_site(NEXT_COOKIE, &hex(target.as_bytes()), LINK_VALID * 2, "Lax"))
}

/// The `Set-Cookie` that forgets the target.
pub fn forget_next() -> String {
    set_cookie_same_site(NEXT_COOKIE, "0", Duration::ZERO, "Lax")
}

/// Where a handler lands once signed in: the page they asked for before (see [`next_cookie`]),
/// or "my day".
pub fn landing(headers: &HeaderMap) -> String {
    let raw = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == NEXT_COOKIE)
        .map(|(_, v)| v.to_string());
    let decoded = raw.filter(|v| v.len() % 2 == 0 && v.len() <= 4000).and_then(|v| {
        let bytes: Option<Vec<u8>> = (0..v.len()).step_by(2).map(|i| u8::from_str_radix(v.get(i..i + 2)?, 16).ok()).collect();
        String::from_utf8(bytes?).ok()
    });
    decoded.and_then(|t| local_target(&t).map(str::to_string)).unwrap_or_else(|| "/".to_string())
}

/// `target` if it is a path on this site (not `//elsewhere`, no backslash or control
/// characters, not the sign-in itself).
fn local_target(target: &str) -> Option<&str> {
    let ok = target.starts_with('/')
        && !target.starts_with("//")
        && target.len() <= 1000
        && target.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        && !target.starts_with("/sign-in")
        && !target.starts_with("/sign-out");
    ok.then_some(target)
}

/// At most `limit` events per key within `window` (a sliding window). Pure: the caller passes
/// the time, so it is tested without waiting.
pub struct RateLimiter {
    limit: usize,
    window: Duration,
    events: HashMap<String, VecDeque<Instant>>,
}

impl RateLimiter {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self { limit, window, events: HashMap::new() }
    }

    /// Counts an attempt for `key` at `now`; false (and not counted) if the key is over its limit.
    pub fn allow(&mut self, key: &str, now: Instant) -> bool {
        let window = self.window;
        // Forget keys whose events all lie outside the window, so the map stays small.
        if self.events.len() > 1_000 {
            self.events.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let q = self.events.entry(key.to_string()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() >= self.limit {
            return false;
        }
        q.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_target_is_a_page_of_ours_else_my_day() {
        let with = |cookie: Option<String>| {
            let mut headers = HeaderMap::new();
            if let Some(c) = cookie {
                let pair = c.split(';').next().unwrap().to_string();
                headers.insert(axum::http::header::COOKIE, format!("other=1; {pair}").parse().unwrap());
            }
            landing(&headers)
        };
        assert_eq!(with(None), "/");
        assert_eq!(with(next_cookie("/cases/KL-2026-0001?done=note")), "/cases/KL-2026-0001?done=note");
        for elsewhere in ["//evil.test/x", "https://evil.test/", "/\\evil.test", "/sign-in", "/a b", "cases"] {
            assert_eq!(next_cookie(elsewhere), None, "{elsewhere}");
        }
        // A forged cookie naming another site is not followed.
        assert_eq!(with(Some(format!("{NEXT_COOKIE}={}", hex(b"//evil.test")))), "/");
        assert_eq!(with(Some(format!("{NEXT_COOKIE}=zz"))), "/");
        assert!(forget_next().contains("Max-Age=0"));
    }

    #[test]
    fn tokens_are_long_random_and_stored_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(well_formed(&a) && well_formed(&b));
        // SHA-256 of "abc" (FIPS 180-2 test vector).
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_ne!(hash(&a), a);
        assert!(!well_formed("abc") && !well_formed(&"g".repeat(64)));
    }

    #[test]
    fn csrf_compares_exactly() {
        let t = new_token();
        assert!(csrf_matches(&t, Some(&t)));
        assert!(!csrf_matches(&t, Some(&new_token())));
        assert!(!csrf_matches(&t, None));
        assert!(!csrf_matches("", Some("")));
        assert_ne!(sign_in_csrf(&t), sign_in_csrf(&new_token()));
    }

    #[test]
    fn cookies_are_read_by_name_and_only_when_well_formed() {
        let t = new_token();
        let mut h = HeaderMap::new();
        h.insert("cookie", format!("other=1; {SESSION_COOKIE}={t}; x=<script>").parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some(t.clone()));
        assert_eq!(cookie(&h, "x"), None);
        assert_eq!(cookie(&h, BROWSER_COOKIE), None);
        let c = set_cookie(SESSION_COOKIE, &t, Duration::from_secs(60));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("; Secure") && c.contains("Max-Age=60"));
        // What a browser demands of a `__Host-` cookie.
        for name in [SESSION_COOKIE, BROWSER_COOKIE, OIDC_COOKIE] {
            let c = set_cookie_same_site(name, &t, Duration::from_secs(60), "Lax");
            assert!(name.starts_with("__Host-") && c.contains("; Secure") && c.contains("; Path=/;") && !c.contains("Domain"), "{c}");
        }
    }

    #[test]
    fn rate_limiter_allows_the_limit_per_key_within_the_window() {
        let mut r = RateLimiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(r.allow("a@example.nl", t0 + Duration::from_secs(i)), "attempt {i}");
        }
        assert!(!r.allow("a@example.nl", t0 + Duration::from_secs(10)));
        // Another key has its own count.
        assert!(r.allow("b@example.nl", t0 + Duration::from_secs(10)));
        // A refused attempt is not counted: once the first one leaves the window, one more passes.
        assert!(r.allow("a@example.nl", t0 + Duration::from_secs(60)));
        assert!(!r.allow("a@example.nl", t0 + Duration::from_secs(60)));
        assert!(r.allow("a@example.nl", t0 + Duration::from_secs(62)));
    }
}
