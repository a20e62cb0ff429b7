//! The classifier measured on real mail nobody here wrote (issue 21): test fixtures of other
//! mail and helpdesk projects, each labelled `person`, `machine` or `unclear` by reading it
//! (tests/eval/labels.tsv; tests/eval/README.md says where the mails come from). The mails
//! themselves are not in this repository: their licences differ. This program fetches nothing;
//! it reads them from the folder you name.
//!
//!     cargo bench --bench classify_eval -- /work/eval-mails [labels.tsv] [--all]
//!
//! Each mail is parsed and classified as intake would for a mail about no known case, with the
//! default spam policy. The outcome that matters to a complainant:
//! - `answered`: NewComplaint, a case is registered and acknowledged;
//! - `to a person`: Quarantine, a person judges it first, nothing is sent;
//! - `silent`: Automated, SetAside or OwnMail, no case and no answer.
//!
//! It prints a table per label and per source, every silenced person and every answered machine
//! (file id, reason, subject and sender, never the body), and the two rates the issue sets
//! goals for: silenced persons (goal 0) and machine mail answered (goal at most 2 %). Mail a
//! trusted spam filter flagged (its verdict headers, e.g. after tests/eval/spamfilter.sh) is
//! held for a person, not silenced; the persons among it are listed apart, since each waits
//! for someone to release it.
//! `--all` adds one line per mail, to compare two classifiers with `diff`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use klachtd::config::Spam;
use klachtd::domain::classify::{classify, correspondent, Classification, QuarantineReason};
use klachtd::domain::inbound::{parse, InboundMail};

/// Our own complaints address: made up, so that no fixture's sender is "us" by accident.
const OWN_ADDRESS: &str = "klachten@eval-gemeente.invalid";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Label {
    Person,
    Machine,
    Unclear,
}

impl Label {
    fn parse(s: &str) -> Option<Label> {
        match s.trim() {
            "person" => Some(Label::Person),
            "machine" => Some(Label::Machine),
            "unclear" => Some(Label::Unclear),
            _ => None,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Label::Person => "person",
            Label::Machine => "machine",
            Label::Unclear => "unclear",
        }
    }
}

/// What the classification means for whoever sent the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// A case, and an acknowledgement.
    Answered,
    /// Quarantine: a person looks first, nothing is sent.
    ToPerson,
    /// No case, no answer, nobody looks.
    Silent,
    /// A follow-up (cannot happen here: no mail is linked to a case).
    FollowUp,
    /// mail-parser or `inbound::parse` refused it.
    Unparseable,
    /// Named in the labels, not in the folder.
    Missing,
}

const OUTCOMES: [Outcome; 6] = [Outcome::Answered, Outcome::ToPerson, Outcome::Silent, Outcome::FollowUp, Outcome::Unparseable, Outcome::Missing];

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::ToPerson => "to a person",
            Outcome::Silent => "silent",
            Outcome::FollowUp => "follow-up",
            Outcome::Unparseable => "unparseable",
            Outcome::Missing => "missing",
        }
    }
}

struct Entry {
    id: String,
    repo: String,
    label: Label,
    note: String,
}

struct Judged {
    entry: Entry,
    outcome: Outcome,
    reason: String,
    subject: String,
    from: String,
    /// Where the intake sends the acknowledgement, and the other address when `From` and
    /// `Reply-To` differ.
    ack: Option<(String, Option<String>)>,
    /// Held because a trusted spam filter flagged it.
    spam: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let all = args.iter().any(|a| a == "--all");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let Some(folder) = positional.first().map(PathBuf::from) else {
        eprintln!("usage: cargo bench --bench classify_eval -- <folder with the mails> [labels.tsv] [--all]");
        std::process::exit(2);
    };
    let labels_path = positional.get(1).map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/eval/labels.tsv"));
    let entries = match read_labels(&labels_path) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("classify_eval: {}: {e}", labels_path.display());
            std::process::exit(2);
        }
    };
    if !folder.is_dir() {
        eprintln!("classify_eval: {} is not a folder (see tests/eval/README.md for how to fill it)", folder.display());
        std::process::exit(2);
    }

    let policy = Spam::default().policy();
    let own = [OWN_ADDRESS.to_string()];
    let mut spent = Duration::ZERO;
    let mut results = Vec::with_capacity(entries.len());
    for entry in entries {
        let path = folder.join(&entry.id);
        let raw = match std::fs::read(&path) {
            Ok(raw) => raw,
            Err(_) => {
                results.push(Judged {
                    entry,
                    outcome: Outcome::Missing,
                    reason: String::new(),
                    subject: String::new(),
                    from: String::new(),
                    ack: None,
                    spam: false,
                });
                continue;
            }
        };
        let started = Instant::now();
        let parsed = parse(&raw);
        let class = parsed.as_ref().ok().map(|mail| classify::<()>(mail, &own, None, Some(&policy)));
        spent += started.elapsed();
        let (mail, class) = match (parsed, class) {
            (Ok(mail), Some(class)) => (mail, class),
            (Err(e), _) => {
                results.push(Judged {
                    entry,
                    outcome: Outcome::Unparseable,
                    reason: e.to_string(),
                    subject: String::new(),
                    from: String::new(),
                    ack: None,
                    spam: false,
                });
                continue;
            }
            (Ok(_), None) => unreachable!("classified when parsed"),
        };
        let (outcome, reason) = outcome(&class);
        let spam = matches!(class, Classification::Quarantine(QuarantineReason::Spam(_)));
        let ack = (outcome == Outcome::Answered).then(|| acknowledgement_to(&mail)).flatten();
        results.push(Judged {
            entry,
            outcome,
            reason,
            subject: clip(&mail.subject, 90),
            from: mail.from.as_ref().map(|f| f.address.clone()).unwrap_or_default(),
            ack,
            spam,
        });
    }

    report(&results, &folder, &labels_path, spent, all);
}

/// Where the intake sends the acknowledgement (`classify::correspondent`): a person writing
/// themselves at `From`, a web form's person at its `Reply-To`; with the other address when the
/// two differ.
fn acknowledgement_to(mail: &InboundMail) -> Option<(String, Option<String>)> {
    let to = correspondent(mail, &[OWN_ADDRESS.to_string()])?.person.address;
    let other = [mail.from.as_ref(), mail.reply_to.as_ref()].into_iter().flatten().map(|p| p.address.clone()).find(|a| *a != to);
    Some((to, other))
}

fn outcome(class: &Classification<()>) -> (Outcome, String) {
    match class {
        Classification::NewComplaint => (Outcome::Answered, "new complaint".into()),
        Classification::Quarantine(reason) => (Outcome::ToPerson, reason.describe()),
        Classification::Automated { reason, .. } => (Outcome::Silent, reason.as_str().into()),
        Classification::SetAside { reason, .. } => (Outcome::Silent, reason.as_str().into()),
        Classification::OwnMail { .. } => (Outcome::Silent, "own mail".into()),
        Classification::FollowUp(()) => (Outcome::FollowUp, "follow-up".into()),
    }
}

/// Tab-separated: id, source repository, commit, path, label, note. A first line starting with
/// `id` is the header; `#` lines are comments.
fn read_labels(path: &Path) -> Result<Vec<Entry>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') || (n == 0 && line.starts_with("id\t")) {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 5 {
            return Err(format!("line {}: {} columns, expected id, repository, commit, path, label, note", n + 1, cols.len()));
        }
        let label = Label::parse(cols[4]).ok_or_else(|| format!("line {}: label {:?} is none of person, machine, unclear", n + 1, cols[4]))?;
        entries.push(Entry { id: cols[0].to_string(), repo: cols[1].to_string(), label, note: cols.get(5).unwrap_or(&"").to_string() });
    }
    Ok(entries)
}

fn report(results: &[Judged], folder: &Path, labels: &Path, spent: Duration, all: bool) {
    println!("classifier evaluation: {} labelled mails from {} (labels {})", results.len(), folder.display(), labels.display());
    let parsed = results.iter().filter(|r| !matches!(r.outcome, Outcome::Missing | Outcome::Unparseable)).count();
    if parsed > 0 {
        println!("parse + classify: {:.1} ms in all, {:.0} µs a mail", spent.as_secs_f64() * 1e3, spent.as_secs_f64() * 1e6 / parsed as f64);
    }

    println!("\n== outcome per label");
    table(results, |_| "all".to_string());
    println!("\n== outcome per source and label");
    table(results, |r| r.entry.repo.clone());

    let silenced: Vec<&Judged> = results.iter().filter(|r| r.entry.label == Label::Person && r.outcome == Outcome::Silent).collect();
    let answered: Vec<&Judged> = results.iter().filter(|r| r.entry.label == Label::Machine && r.outcome == Outcome::Answered).collect();
    println!("\n== silenced persons ({}): a person's mail set aside with no case and no answer", silenced.len());
    for r in &silenced {
        line(r);
    }
    println!("\n== answered machines ({}): machine mail that would get a case and an acknowledgement", answered.len());
    for r in &answered {
        line(r);
    }
    let held: Vec<&Judged> = results.iter().filter(|r| r.outcome == Outcome::ToPerson).collect();
    println!("\n== held for a person ({}): quarantined, nothing sent", held.len());
    for r in &held {
        line(r);
    }
    let spam_persons: Vec<&Judged> = results.iter().filter(|r| r.entry.label == Label::Person && r.spam).collect();
    println!("\n== persons held as spam ({}): a trusted spam filter flagged them; each waits for a person to release it", spam_persons.len());
    for r in &spam_persons {
        line(r);
    }
    let odd: Vec<&Judged> = results.iter().filter(|r| matches!(r.outcome, Outcome::Unparseable | Outcome::Missing)).collect();
    if !odd.is_empty() {
        println!("\n== unparseable or missing ({})", odd.len());
        for r in &odd {
            println!("  {:<11} {:<8} {}  {}", r.outcome.as_str(), r.entry.label.as_str(), r.entry.id, r.reason);
        }
    }

    let acks: Vec<&Judged> = results.iter().filter(|r| r.ack.as_ref().is_some_and(|(_, reply_to)| reply_to.is_some())).collect();
    println!("\n== acknowledgements where From and Reply-To differ ({}; a person's go to From, a web form's to its Reply-To)", acks.len());
    for r in &acks {
        let (to, reply_to) = r.ack.as_ref().expect("filtered");
        println!("  {:<8} {}  ack to {} (not {})  \"{}\"", r.entry.label.as_str(), r.entry.id, to, reply_to.as_deref().unwrap_or(""), r.subject);
    }

    if all {
        println!("\n== every mail: id, label, outcome, reason");
        for r in results {
            println!("{}\t{}\t{}\t{}", r.entry.id, r.entry.label.as_str(), r.outcome.as_str(), r.reason);
        }
    }

    let count = |label: Label, pred: &dyn Fn(Outcome) -> bool| results.iter().filter(|r| r.entry.label == label && pred(r.outcome)).count();
    let judged = |o: Outcome| !matches!(o, Outcome::Missing | Outcome::Unparseable);
    let persons = count(Label::Person, &judged);
    let machines = count(Label::Machine, &judged);
    println!("\n== rates (parsed mail only; unparseable and missing mail is listed above)");
    println!("silenced persons:        {:>4} of {:>4} = {}   (goal 0)", silenced.len(), persons, percent(silenced.len(), persons));
    println!("machine mail answered:   {:>4} of {:>4} = {}   (goal <= 2 %)", answered.len(), machines, percent(answered.len(), machines));
    println!(
        "persons held for a person: {} of {}; machines held for a person: {} of {}",
        count(Label::Person, &|o| o == Outcome::ToPerson),
        persons,
        count(Label::Machine, &|o| o == Outcome::ToPerson),
        machines
    );
    let spam = |label: Label| results.iter().filter(|r| r.entry.label == label && r.spam).count();
    println!("held as spam (intake.spam): {} persons, {} machines, {} unclear", spam(Label::Person), spam(Label::Machine), spam(Label::Unclear));
}

fn line(r: &Judged) {
    let note = if r.entry.note.is_empty() { String::new() } else { format!("  [{}]", r.entry.note) };
    println!("  {:<8} {}  {}  from {}  \"{}\"{}", r.entry.label.as_str(), r.entry.id, r.reason, r.from, r.subject, note);
}

/// One table: rows are (group, label), columns the outcomes.
fn table(results: &[Judged], group: impl Fn(&Judged) -> String) {
    let mut rows: BTreeMap<(String, Label), [usize; OUTCOMES.len()]> = BTreeMap::new();
    for r in results {
        let row = rows.entry((group(r), r.entry.label)).or_default();
        row[OUTCOMES.iter().position(|o| *o == r.outcome).expect("every outcome listed")] += 1;
    }
    let width = rows.keys().map(|(g, _)| g.len()).max().unwrap_or(5).max(6);
    print!("{:<width$} {:<8} {:>5}", "source", "label", "mails");
    for o in OUTCOMES {
        print!(" {:>11}", o.as_str());
    }
    println!();
    for ((g, label), counts) in &rows {
        print!("{:<width$} {:<8} {:>5}", g, label.as_str(), counts.iter().sum::<usize>());
        for c in counts {
            print!(" {:>11}", c);
        }
        println!();
    }
}

fn percent(n: usize, of: usize) -> String {
    if of == 0 {
        "n/a".into()
    } else {
        format!("{:.1} %", n as f64 * 100.0 / of as f64)
    }
}

fn clip(s: &str, max: usize) -> String {
    let s: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if s.chars().count() <= max {
        s
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}
