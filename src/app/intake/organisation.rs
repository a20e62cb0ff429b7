//! Whose mail an intake takes in (issue 25): one organisation's. Its mail threads only into
//! its own cases; a reference of another organisation's is noted on the case the mail becomes,
//! and nothing of that other case is looked up. The same mail to two organisations is a mail of
//! each (its dedupe key names the organisation).

use super::*;

/// A case a new complaint's mail names without being threaded into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mention {
    /// A case of this organisation whose correspondents do not include the sender.
    SenderUnknown(CaseRef),
    /// A reference with another organisation's prefix: nothing of that case is looked up.
    OtherOrganisation(CaseRef),
}

impl Intake {
    /// The intake of the organisation `key`'s mail; `None` if the configuration does not name it.
    pub fn in_organisation(&self, key: &OrganisationKey) -> Option<Self> {
        let (book, domain) = self.organisations.iter().find(|(b, _)| &b.organisation == key)?.clone();
        let foreign_prefixes = self.organisations.iter().filter(|(b, _)| &b.organisation != key).map(|(b, _)| b.prefix.clone()).collect();
        Some(Self { book, foreign_prefixes, message_id_domain: domain, ..self.clone() })
    }

    /// Whose mail this intake takes in.
    pub fn organisation(&self) -> &OrganisationKey {
        &self.book.organisation
    }

    /// How this organisation knows a mail again: the same mail to two organisations is a mail
    /// of each (see [`InboundMail::dedupe_key_in`]).
    pub(super) fn dedupe_key(&self, mail: &InboundMail) -> String {
        mail.dedupe_key_in(&self.book.organisation)
    }

    /// The case a mail belongs to, and (for a complaint of its own) the reference of a case its
    /// text names. Only a case of this organisation: a reference or a reply to another
    /// organisation's case does not thread, and that reference is only noted (see [`Mention`]).
    pub(super) async fn link(&self, db: &mut Conn, mail: &InboundMail) -> Result<(Option<CaseLink>, Option<Mention>), IntakeError> {
        let (organisation, prefix) = (&self.book.organisation, &self.book.prefix);
        let references = CaseRef::find_all(&mail.subject, prefix);
        let mut linked = self.store.find_case_in(db, organisation, &references, &mail.thread_ids).await?;
        // A reference of ours in the opening of the text ("over mijn klacht KL-2026-0016")
        // threads the mail like one in the subject, but only from an address known on that
        // case: nothing of a case is tied to a stranger's mail. A stranger's mail is a
        // complaint of its own (acknowledged as any other, saying nothing of the case it
        // names); its history notes the reference so the handler can join them.
        let mut mentions = None;
        // A reference written by hand in the subject ("KL 2026 0005") counts as one in the text.
        if linked.is_none() {
            let mut in_text = CaseRef::find_loose(&mail.subject, prefix);
            in_text.extend(CaseRef::find_in_opening(&mail.text, prefix));
            in_text.retain(|r| !references.contains(r));
            if let (Some(case), Some(from)) = (self.store.find_case_in(db, organisation, &in_text, &[]).await?, correspondent(mail, &self.own_addresses)) {
                if self.store.address_known_on_case(db, case.id, &from.person.address).await? {
                    linked = Some(case);
                } else {
                    mentions = Some(Mention::SenderUnknown(case.reference));
                }
            }
        }
        if linked.is_none() && mentions.is_none() {
            mentions = self.foreign_reference(mail).map(Mention::OtherOrganisation);
        }
        Ok((linked, mentions))
    }

    /// The first reference with another organisation's prefix in the mail's subject or the
    /// opening of its text: what the mail itself says, nothing looked up.
    fn foreign_reference(&self, mail: &InboundMail) -> Option<CaseRef> {
        self.foreign_prefixes.iter().find_map(|prefix| {
            CaseRef::find_all(&mail.subject, prefix)
                .into_iter()
                .chain(CaseRef::find_loose(&mail.subject, prefix))
                .chain(CaseRef::find_in_opening(&mail.text, prefix))
                .next()
        })
    }
}
