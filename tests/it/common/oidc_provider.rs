//! A small OpenID Connect provider for the sign-in tests, standing in for Entra ID and Google:
//! discovery, the keys (JWKS, rotated on demand), an authorization endpoint that "signs in" the
//! user the test chose and sends the browser back with a code, and a token endpoint that checks
//! what the real ones check (the code, once; the PKCE verifier against the S256 challenge; the
//! client secret; the redirect URI) and answers with an RS256 ID token. A test can make it send
//! a token that is wrong in one way (nonce, audience, issuer, expiry, signature, key).
//!
//! Served as `http://localhost:PORT`: another site than the workspace on 127.0.0.1, as a real
//! provider is, so the browser's SameSite rules apply as they would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// The OAuth tests' provider (tests/it/common/oauth_idp.rs), for its helpers.
use crate::common::oauth_idp::{b64url, rsa_key_and_certificate};

/// One way in which the next ID tokens are wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    None,
    Nonce,
    Audience,
    Issuer,
    Expired,
    /// Signed by the published key, then a claim changed.
    Signature,
    /// Signed by a key the provider does not publish, under a kid of its own.
    UnknownKey,
}

struct Key {
    kid: String,
    pair: ring::signature::RsaKeyPair,
    /// base64url modulus and exponent, for the JWKS.
    n: String,
    e: String,
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: String,
    claims: Value,
}

struct State {
    base: String,
    client_id: String,
    secret: String,
    redirect_uri: String,
    /// The claims of the user the authorization endpoint signs in.
    user: Value,
    tamper: Tamper,
    keys: Vec<Key>,
    unpublished: Key,
    codes: HashMap<String, Grant>,
    jwks_fetches: u32,
    /// Why token requests were refused, for the test to read.
    refusals: Vec<String>,
}

pub struct OidcProvider {
    pub base: String,
    state: Arc<Mutex<State>>,
    dir: tempfile::TempDir,
}

/// A fresh RSA key (openssl, through the OAuth provider's helper) as a JWK and a signer.
fn new_key(dir: &std::path::Path, kid: &str) -> Key {
    let (key_path, _, public_pkcs1, _) = rsa_key_and_certificate(dir, kid);
    let pair = klachtd::driven::oauth::jwt::rsa_key_from_file(&key_path).unwrap();
    let (n, e) = rsa_public_numbers(&public_pkcs1);
    Key { kid: kid.to_string(), pair, n: b64url(&n), e: b64url(&e) }
}

/// The modulus and exponent of a PKCS#1 RSAPublicKey (DER: SEQUENCE { INTEGER, INTEGER }).
fn rsa_public_numbers(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    fn item(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let (tag, first) = (der[0], der[1] as usize);
        let (len, start) = if first < 0x80 {
            (first, 2)
        } else {
            let k = first & 0x7f;
            (der[2..2 + k].iter().fold(0usize, |a, b| (a << 8) | *b as usize), 2 + k)
        };
        (tag, &der[start..start + len], &der[start + len..])
    }
    let (_, seq, _) = item(der);
    let (_, n, rest) = item(seq);
    let (_, e, _) = item(rest);
    let strip = |v: &[u8]| v.iter().skip_while(|b| **b == 0).copied().collect::<Vec<u8>>();
    (strip(n), strip(e))
}

impl OidcProvider {
    /// A provider on its own thread for one application: `client_id` with `secret`, answering
    /// only to `redirect_uri`.
    pub fn start(client_id: &str, secret: &str, redirect_uri: &str) -> OidcProvider {
        let dir = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State {
            base: base.clone(),
            client_id: client_id.into(),
            secret: secret.into(),
            redirect_uri: redirect_uri.into(),
            user: json!({}),
            tamper: Tamper::None,
            keys: vec![new_key(dir.path(), "key-1")],
            unpublished: new_key(dir.path(), "key-unpublished"),
            codes: HashMap::new(),
            jwks_fetches: 0,
            refusals: Vec::new(),
        }));
        let s = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                while let Ok((conn, _)) = listener.accept().await {
                    tokio::spawn(serve(conn, s.clone()));
                }
            });
        });
        OidcProvider { base, state, dir }
    }

    /// The user the authorization endpoint signs in next: their claims (`sub`, `email`, ...).
    pub fn sign_in_as(&self, claims: Value) {
        self.state.lock().unwrap().user = claims;
    }

    pub fn tamper(&self, tamper: Tamper) {
        self.state.lock().unwrap().tamper = tamper;
    }

    /// A new signing key under a new kid; the old one is no longer published.
    pub fn rotate(&self) {
        let mut state = self.state.lock().unwrap();
        let kid = format!("key-{}", state.keys.len() + 1);
        let key = new_key(self.dir.path(), &kid);
        state.keys = vec![key];
    }

    pub fn jwks_fetches(&self) -> u32 {
        self.state.lock().unwrap().jwks_fetches
    }

    pub fn refusals(&self) -> Vec<String> {
        self.state.lock().unwrap().refusals.clone()
    }
}

fn now() -> i64 {
    klachtd::driven::oauth::jwt::unix_now() as i64
}

async fn serve(mut conn: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head, body) = loop {
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let length = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.trim().parse::<usize>().ok()))
            .unwrap_or(0);
        if buf.len() >= end + 4 + length {
            break (head, String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).to_string());
        }
    };
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let params: HashMap<String, String> = serde_urlencoded::from_str(if head.starts_with("POST") { &body } else { query }).unwrap_or_default();
    let (status, headers, text) = handle(&mut state.lock().unwrap(), path, &params);
    let response = format!("HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len());
    let _ = conn.write_all(response.as_bytes()).await;
    let _ = conn.shutdown().await;
}

fn json_answer(status: u16, v: Value) -> (u16, String, String) {
    (status, "Content-Type: application/json\r\n".into(), v.to_string())
}

fn refuse(state: &mut State, error: &str, why: &str) -> (u16, String, String) {
    state.refusals.push(why.to_string());
    json_answer(400, json!({"error": error, "error_description": why}))
}

fn handle(state: &mut State, path: &str, p: &HashMap<String, String>) -> (u16, String, String) {
    let base = state.base.clone();
    match path {
        "/.well-known/openid-configuration" => json_answer(
            200,
            json!({"issuer": base, "authorization_endpoint": format!("{base}/authorize"), "token_endpoint": format!("{base}/token"),
                   "jwks_uri": format!("{base}/jwks"), "response_types_supported": ["code"], "id_token_signing_alg_values_supported": ["RS256"],
                   "code_challenge_methods_supported": ["S256"]}),
        ),
        "/jwks" => {
            state.jwks_fetches += 1;
            let keys: Vec<Value> = state.keys.iter().map(|k| json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid, "n": k.n, "e": k.e})).collect();
            json_answer(200, json!({"keys": keys}))
        }
        "/authorize" => authorize(state, p),
        "/token" => token(state, p),
        _ => (404, String::new(), String::new()),
    }
}

/// Signs the chosen user in at once and sends the browser back with a code.
fn authorize(state: &mut State, p: &HashMap<String, String>) -> (u16, String, String) {
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    if get("client_id") != state.client_id || get("redirect_uri") != state.redirect_uri {
        return (400, String::new(), "unknown client or redirect_uri".into());
    }
    if get("response_type") != "code" || get("code_challenge_method") != "S256" || get("code_challenge").len() != 43 || get("nonce").is_empty() {
        return (400, String::new(), "the code flow with PKCE (S256) and a nonce is required".into());
    }
    let code = b64url(klachtd::driving::web::auth::new_token().as_bytes());
    let grant = Grant {
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        challenge: get("code_challenge"),
        nonce: get("nonce"),
        claims: state.user.clone(),
    };
    state.codes.insert(code.clone(), grant);
    let location = format!("{}?{}", state.redirect_uri, serde_urlencoded::to_string([("code", code), ("state", get("state"))]).unwrap());
    (302, format!("Location: {location}\r\n"), String::new())
}

/// The code's exchange, checked as Entra and Google check it.
fn token(state: &mut State, p: &HashMap<String, String>) -> (u16, String, String) {
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    if get("grant_type") != "authorization_code" {
        return refuse(state, "unsupported_grant_type", "grant_type");
    }
    if get("client_id") != state.client_id || get("client_secret") != state.secret {
        return refuse(state, "invalid_client", "client_id or client_secret");
    }
    // A code works once.
    let Some(grant) = state.codes.remove(&get("code")) else { return refuse(state, "invalid_grant", "unknown or used code") };
    if grant.redirect_uri != get("redirect_uri") || grant.client_id != get("client_id") {
        return refuse(state, "invalid_grant", "redirect_uri");
    }
    if klachtd::driven::oidc::challenge(&get("code_verifier")) != grant.challenge {
        return refuse(state, "invalid_grant", "code_verifier");
    }
    let t = now();
    let mut claims = json!({"iss": state.base, "aud": state.client_id, "iat": t, "exp": t + 3600, "nonce": grant.nonce});
    for (k, v) in grant.claims.as_object().unwrap() {
        claims[k] = v.clone();
    }
    match state.tamper {
        Tamper::Nonce => claims["nonce"] = json!("another-nonce"),
        Tamper::Audience => claims["aud"] = json!("another-app"),
        Tamper::Issuer => claims["iss"] = json!("http://localhost:1/another-issuer"),
        Tamper::Expired => {
            claims["iat"] = json!(t - 7200);
            claims["exp"] = json!(t - 3600);
        }
        Tamper::None | Tamper::Signature | Tamper::UnknownKey => {}
    }
    let key = if state.tamper == Tamper::UnknownKey { &state.unpublished } else { &state.keys[0] };
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.kid});
    let mut id_token = klachtd::driven::oauth::jwt::sign(&header, &claims, &key.pair).unwrap();
    if state.tamper == Tamper::Signature {
        // The same signature over other claims: a token changed on its way.
        let mut parts: Vec<String> = id_token.split('.').map(str::to_string).collect();
        claims["sub"] = json!("someone-else");
        parts[1] = b64url(claims.to_string().as_bytes());
        id_token = parts.join(".");
    }
    json_answer(200, json!({"token_type": "Bearer", "access_token": "unused", "expires_in": 3600, "id_token": id_token}))
}
