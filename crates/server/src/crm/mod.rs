//! CRM connections (CRM-1..3): the sync of accounts and users (`sync`). The write-back
//! outbox, its worker and the poller join this module in their own change.

pub mod sync;
