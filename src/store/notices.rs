//! The notices that tell handlers of their cases, for many cases at once: the cases read beside
//! the writer, the notices queued in one transaction. The intake registers complaints a batch at
//! a time and then tells their handlers; asked a case at a time on the one writer, that was four
//! turns at it for every complaint, each behind the pages that record an opening (R9) and the
//! outbox: under `bench web` a batch of 200 took 2-7 s, where its own transaction held the
//! writer 0.1-0.5 s (issue 24).

use super::actions::{letter_case_on, LetterCase};
use super::outbox::insert_outboxes;
use super::{insert_case_events, now, OutgoingMail, Result, Store};
use crate::domain::history::HistoryEvent;
use crate::domain::reference::{CaseId, CaseRef};

impl Store {
    /// The cases `references` as a notice needs them (without their threads: a notice starts
    /// one of its own), on one read connection; those not found are left out.
    pub async fn notice_cases(&self, references: &[CaseRef]) -> Result<Vec<LetterCase>> {
        let mut conn = self.reads().acquire().await?;
        let mut cases = Vec::with_capacity(references.len());
        for reference in references {
            cases.extend(letter_case_on(&mut conn, reference).await?);
        }
        Ok(cases)
    }

    /// Queues notices to handlers, each with `why` in its case's history, in one transaction.
    pub async fn queue_notices(&self, notices: &[(CaseId, OutgoingMail, String)]) -> Result<()> {
        if notices.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        let mails: Vec<(Option<CaseId>, &OutgoingMail)> = notices.iter().map(|(id, mail, _)| (Some(*id), mail)).collect();
        insert_outboxes(&mut tx, &mails).await?;
        let events: Vec<_> = notices.iter().map(|(id, _, why)| (*id, HistoryEvent::HandlerNotified, why)).collect();
        insert_case_events(&mut tx, now(), "klachtd", &events).await?;
        tx.commit().await?;
        Ok(())
    }
}
