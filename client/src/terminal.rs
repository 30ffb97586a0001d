//! Raw mode and the alternate screen, always given back: on drop, and from a panic hook
//! before the panic message is printed (so it lands on a usable terminal).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

pub struct TerminalGuard;

/// Whether the terminal is ours right now. Restoring twice is not harmless: leaving the
/// alternate screen again moves the cursor back to where it was saved on entering, so the
/// panic message printed after the first restore would be overwritten.
static ENTERED: AtomicBool = AtomicBool::new(false);

impl TerminalGuard {
    pub fn enter(mouse: bool) -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        ENTERED.store(true, Ordering::SeqCst);
        let guard = TerminalGuard;
        let mut out = io::stdout();
        execute!(out, EnterAlternateScreen, EnableBracketedPaste)?;
        if mouse {
            execute!(out, EnableMouseCapture)?;
        }
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Undo everything `enter` did, once: later calls do nothing.
pub fn restore() {
    if !ENTERED.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    let _ = execute!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("panic: {info}");
        // The UI runs on the main thread: only its panic ends the program. A panic elsewhere
        // (a network task) is logged, and the terminal is left to the UI, which goes on.
        if std::thread::current().name() == Some("main") {
            restore();
            previous(info);
        }
    }));
}
