use super::*;
use crate::domain::terms::{Preset, Term};

/// Two organisations, the second with two mailboxes (other modules' unit tests use it too).
pub(crate) const TWO: &str = r#"
[[organisations]]
key = "wp"
name = "Werkplein"
complaints_address = "klachten@wp.example.nl"
reference_prefix = "wp"
regulation_url = "https://wp.example.nl/regeling"

[[organisations.mailboxes]]
name = "wp-klachten"
host = "127.0.0.1"
port = 10143
tls = "none"
user = "klachten@wp.example.nl"
password = "x"

[[organisations]]
key = "schuldhulp"
name = "Schuldhulp"
complaints_address = "klachten@sh.example.nl"
reference_prefix = "SH"
regulation_url = "https://sh.example.nl/regeling"
language = "en"
procedure = { preset = "awb", advisory_committee = true }
external_body = { name = "Ombudsman Metropool", address = "Postbus 1, 1000 AA Amsterdam", website = "https://ombudsman.example.nl", term_months = 6 }
retention = { personal_data_days = 400 }

[[organisations.mailboxes]]
name = "sh-1"
host = "127.0.0.1"
port = 10143
tls = "none"
user = "sh1@sh.example.nl"
password = "x"
inbox = "Klachten"

[[organisations.mailboxes]]
name = "sh-2"
host = "127.0.0.1"
port = 10143
tls = "none"
user = "sh2@sh.example.nl"
password = "x"

[smtp]
host = "127.0.0.1"
port = 10025
tls = "none"
"#;

fn keys(c: &Config) -> Vec<String> {
    c.problems().into_iter().map(|p| p.key).collect()
}

#[test]
fn one_organisation_is_the_default_with_its_mailbox() {
    let c = Config::parse(crate::config::tests::MINIMAL).unwrap();
    let orgs = c.organisations();
    assert_eq!(orgs.len(), 1);
    let o = &orgs[0];
    assert_eq!((o.key.as_str(), o.reference_prefix.as_str(), o.name.as_str()), ("default", "KL", "Re-integratiedienst"));
    assert_eq!((o.templates.language.as_str(), o.personal_data_days), ("nl", 730));
    assert_eq!(o.procedure.procedure().respond, Term::Weeks(4));
    assert_eq!(o.mailboxes.len(), 1);
    let m = &o.mailboxes[0];
    assert_eq!((m.name.as_str(), m.key.as_str(), m.config_key.as_str()), ("default", "INBOX", "imap"), "the mailbox keeps the key it always had");
    assert_eq!(o.config_key("procedure.respond"), "procedure.respond");
    assert_eq!(o.config_key("reference_prefix"), "organisation.reference_prefix");
    assert!(!c.lists_organisations());
}

#[test]
fn several_organisations_are_normalised_alike() {
    let c = Config::parse(TWO).unwrap();
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    let orgs = c.organisations();
    assert_eq!(orgs.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["wp", "schuldhulp"]);
    assert_eq!(orgs[0].reference_prefix, "WP", "written upper case, as references are");
    assert_eq!((orgs[0].templates.language.as_str(), orgs[0].personal_data_days), ("nl", 730), "the defaults");
    assert_eq!(orgs[0].procedure.procedure().respond, Term::Weeks(4));
    let sh = &orgs[1];
    assert_eq!((sh.procedure.preset, sh.procedure.procedure().respond), (Preset::Awb, Term::Weeks(10)));
    assert_eq!((sh.external_body.term_months, sh.personal_data_days, sh.templates.language.as_str()), (6, 400, "en"));
    assert_eq!(sh.mailboxes.iter().map(|m| (m.name.as_str(), m.key.as_str())).collect::<Vec<_>>(), [("sh-1", "sh-1"), ("sh-2", "sh-2")]);
    assert_eq!(sh.mailboxes[0].imap.inbox, "Klachten");
    assert_eq!(sh.mailboxes[1].config_key, "organisations[1].mailboxes[1]");
    assert_eq!(c.mailboxes().len(), 3);
    assert_eq!(c.organisation().name, "Werkplein", "the first stands for the deployment");
    assert_eq!(c.imap().user, "klachten@wp.example.nl");
    assert_eq!(sh.own_addresses(), ["klachten@sh.example.nl", "sh1@sh.example.nl", "sh2@sh.example.nl"]);
    assert!(c.own_addresses().contains(&"klachten@wp.example.nl".to_string()) && c.own_addresses().len() == 4);
    assert_eq!(sh.config_key("procedure.respond"), "organisations[1].procedure.respond");
}

#[test]
fn the_forms_are_not_mixed() {
    let both = format!("{TWO}\n{}", crate::config::tests::MINIMAL.replace("[smtp]\nhost = \"127.0.0.1\"\nport = 10025\ntls = \"none\"\n", ""));
    let c = Config::parse(&both).unwrap();
    assert_eq!(keys(&c), ["organisations"]);
    let none = "[smtp]\nhost = \"127.0.0.1\"\nport = 10025\ntls = \"none\"\n";
    assert_eq!(Config::parse(none).unwrap_err(), crate::config::ParseError::NoOrganisation);
    let no_mailbox =
        TWO.split("[[organisations.mailboxes]]\nname = \"wp-klachten\"").next().unwrap().to_string() + "[smtp]\nhost = \"h\"\nport = 1\ntls = \"none\"\n";
    assert!(Config::parse(&no_mailbox).unwrap_err().to_string().contains("mailboxes"));
    let loose = Config::parse(&format!("{TWO}\n[procedure]\npreset = \"awb\"\n")).unwrap();
    assert_eq!(keys(&loose), ["procedure"], "the procedure is each organisation's");
}

#[test]
fn keys_prefixes_addresses_and_mailbox_names_are_unique() {
    let text = TWO
        .replace("key = \"schuldhulp\"", "key = \"wp\"")
        .replace("\"SH\"", "\"Wp\"")
        .replace("complaints_address = \"klachten@sh.example.nl\"", "complaints_address = \"Klachten@WP.example.nl\"")
        .replace("name = \"sh-2\"", "name = \"sh-1\"");
    let c = Config::parse(&text).unwrap();
    assert_eq!(
        keys(&c),
        ["organisations[1].key", "organisations[1].reference_prefix", "organisations[1].complaints_address", "organisations[1].mailboxes[1].name"]
    );
    assert!(c.problems()[0].message.contains("organisations[0]"), "{}", c.problems()[0]);
}

#[test]
fn each_mistake_is_one_line_naming_its_key() {
    let text = TWO
        .replace("reference_prefix = \"SH\"", "reference_prefix = \"S-H\"")
        .replace("language = \"en\"", "language = \"de\"")
        .replace("term_months = 6", "term_months = 0")
        .replace("password = \"x\"\ninbox = \"Klachten\"", "inbox = \"Klachten\"\nprocessed_folder = \"klachten\"");
    let c = Config::parse(&text).unwrap();
    assert_eq!(
        keys(&c),
        [
            "organisations[1].reference_prefix",
            "organisations[1].language",
            "organisations[1].external_body.term_months",
            "organisations[1].mailboxes[0].password",
            "organisations[1].mailboxes[0].processed_folder",
        ]
    );
    // Misspelt keys are errors wherever they are, naming the key.
    for (from, to, said) in [
        ("name = \"sh-2\"", "name = \"sh-2\"\nhots = \"x\"", "hots"),
        ("language = \"en\"", "langauge = \"en\"", "langauge"),
        ("key = \"wp\"", "key = \"WP\"", "organisation key"),
        ("procedure = { preset = \"awb\"", "procedure = { preset = \"wmo\"", "procedure"),
    ] {
        let err = Config::parse(&TWO.replace(from, to)).unwrap_err().to_string();
        assert!(err.contains(said) && err.starts_with("line "), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
    assert!(Config::parse(&TWO.replace("reference_prefix = \"wp\"\n", "")).unwrap_err().to_string().contains("reference_prefix"));
}

#[test]
fn the_awb_warnings_are_each_organisations() {
    let text = TWO
        .replace("procedure = { preset = \"awb\", advisory_committee = true }", "procedure = { preset = \"awb\", respond = \"12 weeks\" }")
        .replace("personal_data_days = 400", "personal_data_days = 100");
    let c = Config::parse(&text).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    let w: Vec<_> = c.warnings(today).into_iter().map(|p| p.key).collect();
    assert_eq!(w, ["organisations[1].retention.personal_data_days", "organisations[1].procedure.respond"], "only the second's, under its own keys");
}

#[test]
fn the_example_documents_the_organisations() {
    let example = include_str!("../../../config/klachtd.example.toml");
    let (_, listed) = example.split_once("# [[organisations]]").expect("a commented example");
    let (listed, _) = listed.split_once("\n\n").expect("the example ends with a blank line");
    let listed: String = listed.lines().map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#'))).collect::<Vec<_>>().join("\n");
    let text = format!("[[organisations]]{listed}\n[smtp]\nhost = \"smtp.example.nl\"\nport = 465\ntls = \"implicit\"\n");
    let c = Config::parse(&text).expect("the commented example parses");
    let orgs = c.organisations();
    assert_eq!((orgs[0].key.as_str(), orgs[0].mailboxes[0].name.as_str(), orgs[0].procedure.preset), ("wp", "wp-klachten", Preset::Awb));
}

/// The wp mailbox logs in with tokens of its own tenant's app, sh-1 with those of `[oauth2]`.
fn with_oauth(wp_table: &str, sh1_auth: &str) -> String {
    let text = TWO
        .replace(
            "tls = \"none\"\nuser = \"klachten@wp.example.nl\"\npassword = \"x\"\n",
            &format!("tls = \"implicit\"\nuser = \"klachten@wp.example.nl\"\nauth = \"oauth2\"\n\n[organisations.mailboxes.oauth2]\n{wp_table}\n"),
        )
        .replace("tls = \"none\"\nuser = \"sh1@sh.example.nl\"\npassword = \"x\"\n", &format!("user = \"sh1@sh.example.nl\"\n{sh1_auth}\n"));
    format!("{text}\n[oauth2]\nprovider = \"microsoft\"\ntenant = \"gedeeld.example.nl\"\nclient_id = \"app\"\nclient_secret_env = \"PATH\"\n")
}

const WP_APP: &str = "provider = \"microsoft\"\ntenant = \"wp.example.nl\"\nclient_id = \"wp-app\"\nclient_secret_env = \"PATH\"";
const SH1_OAUTH: &str = "tls = \"implicit\"\nauth = \"oauth2\"";

#[test]
fn a_mailbox_takes_tokens_from_its_own_table_or_from_the_top_level_one() {
    let c = Config::parse(&with_oauth(WP_APP, SH1_OAUTH)).unwrap();
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    let m = c.mailboxes();
    assert_eq!(m[0].oauth2(&c).and_then(|o| o.client_id.as_deref()), Some("wp-app"), "its own tenant's app");
    assert_eq!(m[0].oauth2_key(), "organisations[0].mailboxes[0].oauth2");
    assert_eq!(m[1].oauth2(&c).and_then(|o| o.client_id.as_deref()), Some("app"), "the shared app registration");
    assert_eq!(m[1].oauth2_key(), "oauth2");
    // A changed table needs a restart, like any other login setting.
    let other = Config::parse(&with_oauth(&WP_APP.replace("wp-app", "wp-app-2"), SH1_OAUTH)).unwrap();
    assert_eq!(c.restart_needed_for(&other), ["organisations.mailboxes"]);
}

#[test]
fn each_mailboxs_oauth_mistakes_are_on_its_own_keys() {
    // wp's table lacks its client_id and has a key of another provider; sh-1 still has TLS off
    // and a password; sh-2 has a table but logs in with a password.
    let text = with_oauth(&WP_APP.replace("client_id = \"wp-app\"", "token_command = \"x\""), "tls = \"none\"\nauth = \"oauth2\"\npassword = \"x\"")
        .replace("name = \"sh-2\"", "name = \"sh-2\"\noauth2 = { provider = \"command\", token_command = \"x\" }");
    let c = Config::parse(&text).unwrap();
    assert_eq!(
        keys(&c),
        [
            "organisations[1].mailboxes[0].tls",
            "organisations[1].mailboxes[0].password",
            "organisations[1].mailboxes[1].oauth2",
            "organisations[0].mailboxes[0].oauth2.token_command",
            "organisations[0].mailboxes[0].oauth2.client_id",
        ]
    );
    // A misspelt key in a mailbox's table is an error naming the mailbox and the key.
    let err = Config::parse(&with_oauth(&WP_APP.replace("tenant", "tenat"), SH1_OAUTH)).unwrap_err().to_string();
    assert!(err.contains("wp-klachten") && err.contains("tenat") && !err.contains('\n'), "{err}");
}

#[test]
fn the_top_level_oauth2_is_needed_by_or_unused_by_the_mailboxes() {
    // Used by sh-1 only (SMTP logs in with a password): no warning.
    assert!(Config::parse(&with_oauth(WP_APP, SH1_OAUTH)).unwrap().problems().is_empty());
    // Used by no one: wp has its own table, sh-1 a password.
    let unused = Config::parse(&with_oauth(WP_APP, "tls = \"none\"\npassword = \"x\"")).unwrap();
    assert_eq!(keys(&unused), ["oauth2"]);
    assert!(unused.problems()[0].message.contains("own oauth2 table"), "{}", unused.problems()[0]);
    // Needed by sh-1 and missing.
    let text = with_oauth(WP_APP, SH1_OAUTH);
    let missing = Config::parse(text.split("\n[oauth2]\n").next().unwrap()).unwrap();
    assert_eq!(keys(&missing), ["organisations[1].mailboxes[0].auth"]);
    // [graph] stays refused with [[organisations]], saying what works instead.
    let graph = Config::parse(&format!("{text}\n[graph]\nmailbox = \"klachten@wp.example.nl\"\n")).unwrap();
    let refusal = graph.problems().into_iter().find(|p| p.key == "graph").expect("graph refused");
    assert!(refusal.to_string().contains("auth = \"oauth2\""), "{refusal}");
}
