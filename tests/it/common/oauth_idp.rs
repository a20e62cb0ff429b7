//! A small identity provider for the OAuth tests, standing in for Microsoft Entra ID and
//! Google: the token endpoint for the client credentials grant (with a client secret or a
//! certificate-signed assertion) and the JWT bearer grant, checking what those providers check,
//! and the introspection endpoint (RFC 7662) that the test stack's Dovecot asks about each
//! token. It runs on its own thread and runtime, so it outlives any one test's runtime.
//!
//! Everything lives under a tenant (one per test): `/{tenant}/oauth2/v2.0/token` (Microsoft
//! style), `/{tenant}/token` (generic), `/{tenant}/google/token`; `/introspect` is shared.
//! `https_base` serves the same over TLS.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const MICROSOFT_SCOPE: &str = "https://outlook.office365.com/.default";
pub const GOOGLE_SCOPE: &str = "https://mail.google.com/";
/// Microsoft Graph's scope: its tokens carry the audience and the app's application roles.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";

#[derive(Default)]
struct Tenant {
    /// client_id -> (secret, mailbox it may act as)
    secrets: HashMap<String, (String, String)>,
    /// client_id -> (PKCS#1 public key, x5t, mailbox)
    certificates: HashMap<String, (Vec<u8>, String, String)>,
    /// client_email -> (PKCS#1 public key, the mailboxes it may act for: domain-wide delegation)
    service_accounts: HashMap<String, (Vec<u8>, Vec<String>)>,
    /// The scope the generic endpoint wants.
    generic_scope: String,
    lifetime: Duration,
    down: bool,
    /// Token requests answered, and connections dropped while down.
    requests: u32,
    dropped: u32,
    issued: Vec<String>,
    assertions: Vec<String>,
    jtis: Vec<String>,
    /// Subjects of JWT bearer grants.
    subjects: Vec<String>,
    /// client_id -> the Graph application roles granted (default: Mail.ReadWrite, Mail.Send).
    graph_roles: HashMap<String, Vec<String>>,
}

struct Token {
    user: String,
    expires: Instant,
    revoked: bool,
    /// The resource the token is for (the scope without `/.default`), and the app's roles there.
    audience: String,
    roles: Vec<String>,
}

#[derive(Default)]
struct State {
    tenants: HashMap<String, Tenant>,
    tokens: HashMap<String, Token>,
    /// Introspections per user, and how many said active.
    introspections: HashMap<String, (u32, u32)>,
}

pub struct Idp {
    pub port: u16,
    state: Arc<Mutex<State>>,
    runtime: tokio::runtime::Handle,
    https_port: OnceLock<u16>,
}

impl Idp {
    /// The one identity provider of this test process.
    pub fn shared() -> &'static Idp {
        static IDP: OnceLock<Idp> = OnceLock::new();
        IDP.get_or_init(|| {
            let state = Arc::new(Mutex::new(State::default()));
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let port = listener.local_addr().unwrap().port();
            let s = state.clone();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                tx.send(rt.handle().clone()).unwrap();
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    while let Ok((conn, _)) = listener.accept().await {
                        let _ = conn.set_nodelay(true);
                        tokio::spawn(serve(conn, s.clone(), format!("http://127.0.0.1:{port}")));
                    }
                });
            });
            Idp { port, state, runtime: rx.recv().unwrap(), https_port: OnceLock::new() }
        })
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The same endpoints over TLS, with the certificate and key (PEM) of the first call.
    pub fn https_base(&self, cert: &std::path::Path, key: &std::path::Path) -> String {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        let port = *self.https_port.get_or_init(|| {
            let certs = rustls::pki_types::CertificateDer::pem_file_iter(cert).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
            let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let port = listener.local_addr().unwrap().port();
            let state = self.state.clone();
            self.runtime.spawn(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                while let Ok((conn, _)) = listener.accept().await {
                    let (acceptor, state) = (acceptor.clone(), state.clone());
                    tokio::spawn(async move {
                        if let Ok(tls) = acceptor.accept(conn).await {
                            serve(tls, state, format!("https://127.0.0.1:{port}")).await;
                        }
                    });
                }
            });
            port
        });
        format!("https://127.0.0.1:{port}")
    }

    pub fn introspection_url(&self) -> String {
        format!("{}/introspect", self.base())
    }

    pub fn microsoft_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base())
    }

    pub fn generic_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/token", self.base())
    }

    fn with<T>(&self, tenant: &str, f: impl FnOnce(&mut Tenant) -> T) -> T {
        let mut state = self.state.lock().unwrap();
        let t = state.tenants.entry(tenant.to_string()).or_insert_with(|| Tenant { lifetime: Duration::from_secs(3600), ..Tenant::default() });
        f(t)
    }

    pub fn add_secret_client(&self, tenant: &str, client_id: &str, secret: &str, mailbox: &str) {
        self.with(tenant, |t| t.secrets.insert(client_id.into(), (secret.into(), mailbox.into())));
    }

    pub fn add_certificate_client(&self, tenant: &str, client_id: &str, public_key_pkcs1: Vec<u8>, cert_der: &[u8], mailbox: &str) {
        let x5t = b64url(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der).as_ref());
        self.with(tenant, |t| t.certificates.insert(client_id.into(), (public_key_pkcs1, x5t, mailbox.into())));
    }

    pub fn add_service_account(&self, tenant: &str, client_email: &str, public_key_pkcs1: Vec<u8>, mailbox: &str) {
        self.with(tenant, |t| t.service_accounts.insert(client_email.into(), (public_key_pkcs1, vec![mailbox.into()])));
    }

    /// Lets a service account act for one more mailbox (as a Workspace admin's delegation
    /// covers several): a token for each mailbox, as the JWT's subject asks. Entra ID apps
    /// stay granted one mailbox here: their token names no mailbox (Exchange checks the grant
    /// at login), and Dovecot's introspection request does not say who logs in, so a token
    /// of this stand-in can only be for one user.
    pub fn grant_service_account(&self, tenant: &str, client_email: &str, mailbox: &str) {
        self.with(tenant, |t| t.service_accounts.get_mut(client_email).expect("a service account of this tenant").1.push(mailbox.into()));
    }

    pub fn set_generic_scope(&self, tenant: &str, scope: &str) {
        self.with(tenant, |t| t.generic_scope = scope.into());
    }

    pub fn set_lifetime(&self, tenant: &str, lifetime: Duration) {
        self.with(tenant, |t| t.lifetime = lifetime);
    }

    /// While down, the tenant's token endpoints drop every connection unanswered.
    pub fn set_down(&self, tenant: &str, down: bool) {
        self.with(tenant, |t| t.down = down);
    }

    /// (token requests answered, connections dropped while down)
    pub fn requests(&self, tenant: &str) -> (u32, u32) {
        self.with(tenant, |t| (t.requests, t.dropped))
    }

    /// Every token the tenant issued, oldest first.
    pub fn issued(&self, tenant: &str) -> Vec<String> {
        self.with(tenant, |t| t.issued.clone())
    }

    pub fn assertions(&self, tenant: &str) -> Vec<String> {
        self.with(tenant, |t| t.assertions.clone())
    }

    pub fn subjects(&self, tenant: &str) -> Vec<String> {
        self.with(tenant, |t| t.subjects.clone())
    }

    /// Revokes every token issued for `user`: introspection says inactive from now on.
    pub fn revoke_all(&self, user: &str) {
        for t in self.state.lock().unwrap().tokens.values_mut().filter(|t| t.user == user) {
            t.revoked = true;
        }
    }

    /// Whether every token issued for `user` has expired.
    pub fn all_expired(&self, user: &str) -> bool {
        let now = Instant::now();
        self.state.lock().unwrap().tokens.values().filter(|t| t.user == user).all(|t| t.expires <= now)
    }

    /// A token for `user` made outside any grant (what a token broker would hand out).
    pub fn mint(&self, user: &str, lifetime: Duration) -> String {
        let token = new_token();
        let t = Token { user: user.into(), expires: Instant::now() + lifetime, revoked: false, audience: String::new(), roles: Vec::new() };
        self.state.lock().unwrap().tokens.insert(token.clone(), t);
        token
    }

    /// The Graph application roles `client_id` is granted (admin consent), instead of both.
    pub fn set_graph_roles(&self, tenant: &str, client_id: &str, roles: &[&str]) {
        self.with(tenant, |t| t.graph_roles.insert(client_id.into(), roles.iter().map(|r| r.to_string()).collect()));
    }

    /// What a resource server learns of an active token: (user, audience, roles).
    pub fn introspect(&self, token: &str) -> Option<(String, String, Vec<String>)> {
        let state = self.state.lock().unwrap();
        let t = state.tokens.get(token).filter(|t| !t.revoked && t.expires > Instant::now())?;
        Some((t.user.clone(), t.audience.clone(), t.roles.clone()))
    }

    /// (introspections, of which active) for `user`.
    pub fn introspections(&self, user: &str) -> (u32, u32) {
        self.state.lock().unwrap().introspections.get(user).copied().unwrap_or((0, 0))
    }
}

pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// About as long as Microsoft's (~1,500 characters), so line limits are exercised.
fn new_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = vec![0u8; 1125];
    ring::rand::SystemRandom::new().fill(&mut bytes).unwrap();
    format!("tok.{}", b64url(&bytes))
}

fn form_decode(body: &str) -> HashMap<String, String> {
    fn dec(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (dec(k), dec(v))).collect()
}

async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut conn: S, state: Arc<Mutex<State>>, base: String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (path, body) = loop {
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
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            break (path, String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).to_string());
        }
    };
    let form = form_decode(&body);
    let answer = {
        let mut state = state.lock().unwrap();
        handle(&mut state, &path, &form, &base)
    };
    let Some((status, json)) = answer else { return }; // down: drop the connection
    let reason = if status == 200 { "OK" } else { "Error" };
    let text = json.to_string();
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = conn.write_all(response.as_bytes()).await;
    let _ = conn.shutdown().await;
}

fn error(status: u16, code: &str, description: &str) -> Option<(u16, serde_json::Value)> {
    Some((
        status,
        serde_json::json!({"error": code, "error_description": description, "error_codes": [7000215], "trace_id": "00000000-0000-0000-0000-000000000000"}),
    ))
}

fn handle(state: &mut State, path: &str, form: &HashMap<String, String>, base: &str) -> Option<(u16, serde_json::Value)> {
    if path == "/introspect" {
        let token = form.get("token").cloned().unwrap_or_default();
        let now = Instant::now();
        let found = state.tokens.get(&token).map(|t| (t.user.clone(), !t.revoked && t.expires > now));
        return Some(match found {
            Some((user, active)) => {
                let entry = state.introspections.entry(user.clone()).or_default();
                entry.0 += 1;
                entry.1 += u32::from(active);
                if active {
                    let t = &state.tokens[&token];
                    (200, serde_json::json!({"active": true, "username": user, "aud": t.audience, "roles": t.roles}))
                } else {
                    (200, serde_json::json!({"active": false}))
                }
            }
            None => (200, serde_json::json!({"active": false})),
        });
    }
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let tenant_name = parts.next().unwrap_or_default().to_string();
    let rest = parts.next().unwrap_or_default().to_string();
    let audience = format!("{base}{path}");
    let Some(tenant) = state.tenants.get_mut(&tenant_name) else {
        return error(400, "invalid_request", "AADSTS90002: Tenant not found.");
    };
    if tenant.down {
        tenant.dropped += 1;
        return None;
    }
    tenant.requests += 1;
    let grant = form.get("grant_type").map(String::as_str).unwrap_or_default();
    let user = match (rest.as_str(), grant) {
        ("oauth2/v2.0/token" | "token", "client_credentials") => {
            let client_id = form.get("client_id").cloned().unwrap_or_default();
            let wanted_scope = match form.get("scope").map(String::as_str) {
                Some(GRAPH_SCOPE) if rest != "token" => GRAPH_SCOPE.to_string(),
                _ if rest == "token" => tenant.generic_scope.clone(),
                _ => MICROSOFT_SCOPE.to_string(),
            };
            let user = if let Some(assertion) = form.get("client_assertion") {
                tenant.assertions.push(assertion.clone());
                if form.get("client_assertion_type").map(String::as_str) != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
                    return error(400, "invalid_request", "AADSTS50027: Invalid client_assertion_type.");
                }
                let Some((key, x5t, mailbox)) = tenant.certificates.get(&client_id).cloned() else {
                    return error(
                        400,
                        "unauthorized_client",
                        &format!("AADSTS700016: Application with identifier '{client_id}' was not found in the directory."),
                    );
                };
                let (header, claims) = match verify(assertion, &key) {
                    Ok(v) => v,
                    Err(e) => return error(401, "invalid_client", &format!("AADSTS7000274: Client assertion contains an invalid signature. {e}")),
                };
                if header["alg"] != "RS256" || header["x5t"] != x5t.as_str() {
                    return error(
                        401,
                        "invalid_client",
                        "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.",
                    );
                }
                let now = now_secs();
                let jti = claims["jti"].as_str().unwrap_or_default().to_string();
                if claims["aud"] != audience.as_str() || claims["iss"] != client_id.as_str() || claims["sub"] != client_id.as_str() {
                    return error(401, "invalid_client", "AADSTS700023: Client assertion audience, issuer or subject claim does not match.");
                }
                if claims["exp"].as_u64().is_none_or(|exp| exp <= now) || claims["nbf"].as_u64().is_none_or(|nbf| nbf > now + 60) {
                    return error(401, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range.");
                }
                if jti.is_empty() || tenant.jtis.contains(&jti) {
                    return error(401, "invalid_client", "AADSTS700025: Client assertion jti reused.");
                }
                tenant.jtis.push(jti);
                mailbox
            } else {
                let given = form.get("client_secret").cloned().unwrap_or_default();
                match tenant.secrets.get(&client_id) {
                    Some((secret, mailbox)) if *secret == given => mailbox.clone(),
                    Some(_) => return error(401, "invalid_client", &format!("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'.")),
                    None => return error(400, "unauthorized_client", &format!("AADSTS700016: Application with identifier '{client_id}' was not found in the directory.")),
                }
            };
            if form.get("scope") != Some(&wanted_scope) {
                return error(400, "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid.");
            }
            user
        }
        ("google/token", "urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            let assertion = form.get("assertion").cloned().unwrap_or_default();
            tenant.assertions.push(assertion.clone());
            let claims_unverified = assertion
                .split('.')
                .nth(1)
                .and_then(|c| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).ok())
                .and_then(|c| serde_json::from_slice::<serde_json::Value>(&c).ok())
                .unwrap_or_default();
            let iss = claims_unverified["iss"].as_str().unwrap_or_default().to_string();
            let Some((key, mailboxes)) = tenant.service_accounts.get(&iss).cloned() else {
                return error(400, "invalid_grant", "Invalid grant: account not found");
            };
            let claims = match verify(&assertion, &key) {
                Ok((_, c)) => c,
                Err(_) => return error(400, "invalid_grant", "Invalid JWT Signature."),
            };
            let now = now_secs();
            tenant.subjects.push(claims["sub"].as_str().unwrap_or_default().to_string());
            if claims["aud"] != audience.as_str() || claims["scope"] != GOOGLE_SCOPE {
                return error(400, "invalid_grant", "Invalid JWT: aud or scope is wrong.");
            }
            let (iat, exp) = (claims["iat"].as_u64().unwrap_or(0), claims["exp"].as_u64().unwrap_or(0));
            if exp <= now || iat > now + 60 || exp > iat + 3600 {
                return error(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.");
            }
            let Some(mailbox) = mailboxes.into_iter().find(|m| claims["sub"] == m.as_str()) else {
                return error(
                    401,
                    "unauthorized_client",
                    "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
                );
            };
            mailbox
        }
        _ => return error(400, "unsupported_grant_type", &format!("AADSTS70003: The app requested an unsupported grant type '{grant}'.")),
    };
    let token = new_token();
    let lifetime = tenant.lifetime;
    tenant.issued.push(token.clone());
    let scope = form.get("scope").cloned().unwrap_or_default();
    let roles = match scope.as_str() {
        GRAPH_SCOPE => tenant
            .graph_roles
            .get(form.get("client_id").map(String::as_str).unwrap_or_default())
            .cloned()
            .unwrap_or_else(|| vec!["Mail.ReadWrite".into(), "Mail.Send".into()]),
        _ => Vec::new(),
    };
    let audience = scope.trim_end_matches("/.default").to_string();
    state.tokens.insert(token.clone(), Token { user, expires: Instant::now() + lifetime, revoked: false, audience, roles });
    Some((200, serde_json::json!({"token_type": "Bearer", "expires_in": lifetime.as_secs(), "ext_expires_in": lifetime.as_secs(), "access_token": token})))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Checks an RS256 JWT's signature; returns its header and claims.
fn verify(jwt: &str, public_key_pkcs1: &[u8]) -> Result<(serde_json::Value, serde_json::Value), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err("not a JWT".into());
    }
    let decode = |p: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).map_err(|e| e.to_string());
    let signature = decode(parts[2])?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public_key_pkcs1)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .map_err(|_| "bad signature".to_string())?;
    let header = serde_json::from_slice(&decode(parts[0])?).map_err(|e| e.to_string())?;
    let claims = serde_json::from_slice(&decode(parts[1])?).map_err(|e| e.to_string())?;
    Ok((header, claims))
}

/// An RSA key (PKCS#8 PEM) with a self-signed certificate, made with openssl in `dir`:
/// (key PEM path, certificate PEM path, PKCS#1 public key DER, certificate DER).
pub fn rsa_key_and_certificate(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>, Vec<u8>) {
    let key = dir.join(format!("{name}.key"));
    let cert = dir.join(format!("{name}.pem"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
        "-days",
        "2",
        "-subj",
        "/CN=klachtd test app",
    ]);
    let public = run(&["rsa", "-in", key.to_str().unwrap(), "-RSAPublicKey_out", "-outform", "DER"]);
    let der = run(&["x509", "-in", cert.to_str().unwrap(), "-outform", "DER"]);
    (key, cert, public, der)
}
