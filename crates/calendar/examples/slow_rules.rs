//! The cost of hostile recurrence rules (docs/security.md, "Continuous assurance"): a feed
//! of a weekday standup and N events whose RRULE never matches (as an invitation anyone
//! can send a rep may carry), parsed with the default limits, then busy time over a week.
//!
//!   cargo run --release -p leadrouter-calendar --example slow_rules -- 100

use leadrouter_calendar::{Calendar, ParseOptions};
use std::time::Instant;

fn main() {
    let n: usize = std::env::args().nth(1).map_or(100, |a| a.parse().unwrap());
    let mut body = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n");
    body.push_str("BEGIN:VEVENT\r\nUID:s\r\nDTSTART:20261207T090000Z\r\nDURATION:PT15M\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR\r\nSUMMARY:Standup\r\nEND:VEVENT\r\n");
    for i in 0..n {
        body.push_str(&format!("BEGIN:VEVENT\r\nUID:n{i}\r\nDTSTART:20261207T110000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=31\r\nSUMMARY:Invite {i}\r\nEND:VEVENT\r\n"));
    }
    body.push_str("END:VCALENDAR\r\n");
    let t = Instant::now();
    let cal = Calendar::parse(&body, &ParseOptions::default()).unwrap();
    let parse = t.elapsed();
    let from = "2026-12-14T00:00:00Z".parse().unwrap();
    let to = "2026-12-21T00:00:00Z".parse().unwrap();
    let t = Instant::now();
    let busy = cal.busy(from, to);
    let q = t.elapsed();
    println!(
        "{n} never-matching events ({} bytes): parse {:.1} ms, busy over a week {:.1} ms ({} blocks), {} warnings",
        body.len(),
        parse.as_secs_f64() * 1e3,
        q.as_secs_f64() * 1e3,
        busy.len(),
        cal.warnings().len()
    );
}
