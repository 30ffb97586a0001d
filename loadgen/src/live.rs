//! What the user sees during a run: a ratatui view on a terminal (oha-style: it renders one
//! state, drains the channel once per frame, and always restores the terminal), or a plain
//! progress line on stderr every few seconds.

use std::time::Duration;

use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Gauge, Paragraph, Row, Table};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ledger::LedgerCounts;
use crate::metrics::TimelinePoint;
use crate::report::Report;
use crate::thresholds::{StepMetric, Verdict};

/// The state of a run, once a second.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub phase: &'static str,
    pub elapsed_s: f64,
    pub users_online: i64,
    pub users_target: u32,
    pub last: Option<TimelinePoint>,
    pub ledger: LedgerCounts,
    pub errors: Vec<(String, u64)>,
    /// (step, count, p50 µs, p99 µs) over the whole run so far.
    pub steps: Vec<(&'static str, u64, Option<u64>, Option<u64>)>,
    pub thresholds: Vec<Verdict>,
}

impl Snapshot {
    pub fn new(
        phase: &'static str,
        report: &Report,
        last: Option<TimelinePoint>,
        users_target: u32,
    ) -> Snapshot {
        Snapshot {
            phase,
            elapsed_s: report.duration_s,
            users_online: last.map_or(0, |p| p.users_online),
            users_target,
            last,
            ledger: report.ledger,
            errors: report
                .errors
                .by_kind
                .iter()
                .map(|(k, n)| (k.clone(), *n))
                .collect(),
            steps: StepMetric::ALL
                .iter()
                .filter_map(|s| {
                    let r = report.steps.get(s.name())?;
                    (r.count > 0).then_some((s.name(), r.count, r.p50_us, r.p99_us))
                })
                .collect(),
            thresholds: report.thresholds.clone(),
        }
    }

    /// The plain progress line.
    pub fn line(&self) -> String {
        let p = self.last.unwrap_or(TimelinePoint {
            t_s: 0.0,
            users_online: 0,
            sent_per_s: 0.0,
            delivered_per_s: 0.0,
            errors_per_s: 0.0,
            deliver_p50_us: None,
            deliver_p99_us: None,
        });
        let ms = |v: Option<u64>| v.map_or("-".into(), |us| format!("{:.1}ms", us as f64 / 1000.0));
        let failing = self.thresholds.iter().filter(|v| !v.passed).count();
        format!(
            "[{:>6.1}s {}] users {}/{} · sent {:.0}/s · delivered {:.0}/s · p50 {} p99 {} · {} {} dup {} reord {} · errors {} · thresholds failing {}/{}",
            self.elapsed_s,
            self.phase,
            self.users_online,
            self.users_target,
            p.sent_per_s,
            p.delivered_per_s,
            ms(p.deliver_p50_us),
            ms(p.deliver_p99_us),
            // Until the drain is over, what is owed and not here yet may still be on its way.
            if matches!(self.phase, "ramp" | "load") {
                "undelivered"
            } else {
                "lost"
            },
            self.ledger
                .expected
                .saturating_sub(self.ledger.delivered + self.ledger.late),
            self.ledger.duplicated,
            self.ledger.reordered,
            self.errors.iter().map(|e| e.1).sum::<u64>(),
            failing,
            self.thresholds.len()
        )
    }
}

/// Print the progress line every `every` until the sender is dropped.
pub async fn progress(mut rx: watch::Receiver<Snapshot>, every: Duration) {
    let mut last = tokio::time::Instant::now();
    while rx.changed().await.is_ok() {
        if last.elapsed() >= every {
            eprintln!("{}", rx.borrow_and_update().line());
            last = tokio::time::Instant::now();
        }
    }
}

/// The live view, on a blocking thread; `q` or Ctrl-C cancels `abort`. Returns when the run ends.
pub fn view(rx: watch::Receiver<Snapshot>, abort: CancellationToken) -> std::io::Result<()> {
    let mut terminal = ratatui::try_init()?; // also installs a panic hook that restores
    let result = (|| -> std::io::Result<()> {
        loop {
            if rx.has_changed().is_err() {
                return Ok(()); // the run is over
            }
            let snapshot = rx.borrow().clone();
            terminal.draw(|f| draw(f, &snapshot))?;
            if crossterm::event::poll(Duration::from_millis(250))?
                && let crossterm::event::Event::Key(key) = crossterm::event::read()?
            {
                use crossterm::event::{KeyCode, KeyModifiers};
                if key.code == KeyCode::Char('q')
                    || (key.code == KeyCode::Char('c')
                        && key.modifiers.contains(KeyModifiers::CONTROL))
                {
                    abort.cancel();
                }
            }
        }
    })();
    ratatui::restore();
    result
}

fn draw(f: &mut ratatui::Frame, s: &Snapshot) {
    let [head, gauge, body, bottom] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(3),
        Constraint::Min(8),
        Constraint::Length(8),
    ])
    .areas(f.area());
    let p = s.last.unwrap_or(TimelinePoint {
        t_s: 0.0,
        users_online: 0,
        sent_per_s: 0.0,
        delivered_per_s: 0.0,
        errors_per_s: 0.0,
        deliver_p50_us: None,
        deliver_p99_us: None,
    });
    f.render_widget(
        Paragraph::new(format!(
            "{:.0}s · {} · sent {:.0}/s · delivered {:.0}/s · errors {:.0}/s     (q: stop)",
            s.elapsed_s, s.phase, p.sent_per_s, p.delivered_per_s, p.errors_per_s
        ))
        .block(Block::bordered().title(" loadgen ")),
        head,
    );
    let ratio = if s.users_target == 0 {
        0.0
    } else {
        (s.users_online as f64 / f64::from(s.users_target)).clamp(0.0, 1.0)
    };
    f.render_widget(
        Gauge::default()
            .block(Block::bordered().title(" users online "))
            .gauge_style(Style::default().fg(Color::Cyan))
            .ratio(ratio)
            .label(format!("{}/{}", s.users_online, s.users_target)),
        gauge,
    );
    let [steps, ledger] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
    let ms = |v: Option<u64>| v.map_or("-".into(), |us| format!("{:.2}", us as f64 / 1000.0));
    let rows = s.steps.iter().map(|(name, count, p50, p99)| {
        Row::new(vec![
            (*name).to_owned(),
            count.to_string(),
            ms(*p50),
            ms(*p99),
        ])
    });
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(9),
                Constraint::Length(9),
            ],
        )
        .header(Row::new(vec!["step", "count", "p50 ms", "p99 ms"]))
        .block(Block::bordered().title(" latency ")),
        steps,
    );
    let l = &s.ledger;
    let lines = vec![
        Line::from(format!("sent        {}", l.sent)),
        Line::from(format!("accepted    {}", l.accepted)),
        Line::from(format!("delivered   {} / {}", l.delivered, l.expected)),
        Line::from(format!("duplicated  {}", l.duplicated)),
        Line::from(format!("reordered   {}", l.reordered)),
        Line::from(format!("misdelivered {}", l.misdelivered)),
        Line::from(format!("late        {}", l.late)),
    ];
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" ledger ")),
        ledger,
    );
    let [errors, thresholds] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(bottom);
    let lines: Vec<Line> = s
        .errors
        .iter()
        .map(|(k, n)| Line::from(format!("{k}: {n}")))
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" errors ")),
        errors,
    );
    let lines: Vec<Line> = s
        .thresholds
        .iter()
        .map(|v| {
            Line::styled(
                v.to_string(),
                Style::default().fg(if v.passed { Color::Green } else { Color::Red }),
            )
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" thresholds (so far) ")),
        thresholds,
    );
}
