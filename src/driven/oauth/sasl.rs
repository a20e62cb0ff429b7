//! The SASL mechanisms that carry a bearer token: OAUTHBEARER (RFC 7628) and Google's and
//! Microsoft's XOAUTH2. OAUTHBEARER is preferred when the server offers both.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    OAuthBearer,
    XOAuth2,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::XOAuth2 => "XOAUTH2",
        }
    }

    /// The best of the mechanisms a server offers (names as in its capabilities).
    pub fn choose<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Mechanism> {
        let offered: Vec<String> = offered.into_iter().map(|m| m.to_ascii_uppercase()).collect();
        [Mechanism::OAuthBearer, Mechanism::XOAuth2].into_iter().find(|m| offered.iter().any(|o| o == m.name()))
    }

    /// The client's first message.
    pub fn initial_response(self, user: &str, host: &str, port: u16, token: &str) -> Vec<u8> {
        match self {
            Mechanism::OAuthBearer => {
                // gs2-header with the authorization identity; ',' and '=' escaped (RFC 5801).
                let user = user.replace('=', "=3D").replace(',', "=2C");
                format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01").into_bytes()
            }
            Mechanism::XOAuth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01").into_bytes(),
        }
    }

    /// What to answer when the server, instead of failing at once, sends an error challenge
    /// (a JSON status) after a refused token: the server then ends the exchange with a failure.
    pub fn error_ack(self) -> &'static [u8] {
        match self {
            // RFC 7628 section 3.2.3: a single %x01.
            Mechanism::OAuthBearer => b"\x01",
            Mechanism::XOAuth2 => b"",
        }
    }
}

/// async-imap's side of an AUTHENTICATE exchange.
pub struct ImapAuthenticator {
    initial: Option<Vec<u8>>,
    mechanism: Mechanism,
}

impl ImapAuthenticator {
    pub fn new(mechanism: Mechanism, initial: Vec<u8>) -> Self {
        Self { initial: Some(initial), mechanism }
    }
}

impl fmt::Debug for ImapAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapAuthenticator").field("mechanism", &self.mechanism).finish_non_exhaustive()
    }
}

impl async_imap::Authenticator for ImapAuthenticator {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        // The first continuation asks for the initial response; a later one is the error status.
        self.initial.take().unwrap_or_else(|| self.mechanism.error_ack().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauthbearer_is_preferred_and_formatted_per_rfc_7628() {
        assert_eq!(Mechanism::choose(["PLAIN", "XOAUTH2", "OAUTHBEARER"]), Some(Mechanism::OAuthBearer));
        assert_eq!(Mechanism::choose(["plain", "xoauth2"]), Some(Mechanism::XOAuth2));
        assert_eq!(Mechanism::choose(["PLAIN"]), None);
        assert_eq!(
            Mechanism::OAuthBearer.initial_response("a,b=c@x.nl", "imap.x.nl", 993, "T"),
            b"n,a=a=2Cb=3Dc@x.nl,\x01host=imap.x.nl\x01port=993\x01auth=Bearer T\x01\x01"
        );
        assert_eq!(Mechanism::XOAuth2.initial_response("k@x.nl", "h", 1, "T"), b"user=k@x.nl\x01auth=Bearer T\x01\x01");
    }
}
