//! The running program: config, logging, terminal, and the loop that feeds `update` with
//! key presses, network news and the clock, draws `view`, and carries out the effects.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use crossterm::event::{Event as TermEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use crate::action::Action;
use crate::cli::Cli;
use crate::config::Config;
use crate::effect::Effect;
use crate::keys::{KeyMap, Preset};
use crate::net::NetWorker;
use crate::notify::Notifier;
use crate::state::{Settings, State, Timestamp};
use crate::terminal::TerminalGuard;
use crate::update::update;
use crate::view::view;

/// How often the screen refreshes without input (the reconnect countdown, pings).
const IDLE_TICK: Duration = Duration::from_millis(250);
/// Actions handled per frame at most, so drawing keeps up under a flood.
const BATCH: usize = 512;
/// Rows the mouse wheel scrolls.
const WHEEL_ROWS: i32 = 3;

pub fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    )
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let config_path = cli.config.clone().or_else(Config::default_path);
    let config = match &config_path {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let log_path = cli.log_file.clone().or_else(|| config.log_path());
    if let Some(path) = &log_path
        && let Err(e) = init_logging(path)
    {
        eprintln!("imchat: not logging ({e:#})");
    }
    // Read before any other thread starts: the local offset is only safe to query then.
    let utc_offset_secs = time::UtcOffset::current_local_offset()
        .map(|o| o.whole_seconds())
        .unwrap_or(0);

    let preset: Preset = cli
        .keys
        .as_deref()
        .or(config.keys.preset.as_deref())
        .unwrap_or("emacs")
        .parse()
        .map_err(anyhow::Error::msg)?;
    let keymap = KeyMap::configured(preset, &config.keys.bind)
        .map_err(|e| anyhow::anyhow!("[keys.bind] in the config: {e}"))?;
    let theme = config.theme.resolve().map_err(anyhow::Error::msg)?;
    let mut target = cli.target(&config).map_err(anyhow::Error::msg)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;

    // A password command runs before the screen is taken, so it can ask on the terminal.
    if let Some(t) = target.as_mut()
        && t.password.is_none()
        && let Some(cmd) = t.password_cmd.take()
    {
        let password = runtime
            .block_on(crate::net::password_from_command(&cmd))
            .map_err(anyhow::Error::msg)?;
        t.password = Some(password);
    }

    let notifier = Notifier::detect();
    let mut state = State::new(config.profiles.clone());
    state.utc_offset_secs = utc_offset_secs;
    state.theme = theme;
    state.key_help = keymap.help();
    state.ref_seed = now().0;
    state.settings = Settings {
        auto_read: !cli.no_auto_read && config.auto_read.unwrap_or(true),
        bell: !cli.no_bell && config.notifications.bell,
        desktop: !cli.no_desktop && config.notifications.desktop && notifier.has_desktop(),
        ..Settings::default()
    };
    let mouse = cli.mouse || config.mouse.unwrap_or(false);
    tracing::info!(?config_path, preset = ?keymap.preset, "imchat starting");

    let result = runtime.block_on(event_loop(state, keymap, notifier, target, mouse));
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

fn init_logging(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("IMCHAT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// Terminal events come from a plain thread (crossterm's reader blocks).
fn spawn_input_reader(tx: mpsc::UnboundedSender<TermEvent>) {
    std::thread::spawn(move || {
        while !tx.is_closed() {
            match crossterm::event::poll(Duration::from_millis(200)) {
                Ok(true) => match crossterm::event::read() {
                    Ok(event) => {
                        if tx.send(event).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::error!("terminal read failed: {e}");
                        return;
                    }
                },
                Ok(false) => {}
                Err(e) => {
                    tracing::error!("terminal poll failed: {e}");
                    return;
                }
            }
        }
    });
}

fn to_action(event: TermEvent, keymap: &KeyMap, state: &State) -> Option<Action> {
    match event {
        TermEvent::Key(key) => keymap.action(key, state.mode),
        TermEvent::Paste(text) => Some(Action::Paste(text)),
        TermEvent::Resize(w, h) => Some(Action::Resize(w, h)),
        TermEvent::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollUp => Some(Action::Wheel(WHEEL_ROWS)),
            MouseEventKind::ScrollDown => Some(Action::Wheel(-WHEEL_ROWS)),
            _ => None,
        },
        _ => None,
    }
}

async fn event_loop(
    mut state: State,
    keymap: KeyMap,
    notifier: Notifier,
    target: Option<crate::effect::ConnectTarget>,
    mouse: bool,
) -> anyhow::Result<()> {
    let guard = TerminalGuard::enter(mouse).context("cannot set up the terminal")?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    let (term_tx, mut term_rx) = mpsc::unbounded_channel();
    spawn_input_reader(term_tx);
    let (net_tx, mut net_rx) = mpsc::unbounded_channel();
    let net = NetWorker::spawn(net_tx);

    let size = terminal.size()?;
    let mut first = vec![Action::Tick(now()), Action::Resize(size.width, size.height)];
    first.extend(target.map(Action::Start));
    let mut quit = false;
    let mut net_alive = true;
    for action in first {
        quit |= perform(update(&mut state, action), &net, &notifier);
    }

    // Tests check that a panic gives the terminal back (tests/terminal_restore.rs).
    let panic_for_test = std::env::var_os("IMCHAT_TEST_PANIC").is_some();
    while !quit {
        terminal.draw(|frame| view(&state, frame))?;
        if panic_for_test {
            panic!("IMCHAT_TEST_PANIC is set: panicking after the first frame, as asked");
        }
        let mut batch: Vec<Action> = Vec::new();
        tokio::select! {
            Some(event) = term_rx.recv() => batch.extend(to_action(event, &keymap, &state)),
            action = net_rx.recv(), if net_alive => match action {
                Some(action) => batch.push(action),
                None => {
                    // Only a panic ends the worker early; it is in the log.
                    net_alive = false;
                    batch.push(Action::Net(crate::action::NetEvent::ConnectFailed(
                        "The network part of imchat stopped unexpectedly (see the log file). Restart imchat.".into(),
                    )));
                }
            },
            _ = tokio::time::sleep(IDLE_TICK) => {}
        }
        while batch.len() < BATCH {
            match net_rx.try_recv() {
                Ok(action) => batch.push(action),
                Err(_) => break,
            }
        }
        quit |= perform(update(&mut state, Action::Tick(now())), &net, &notifier);
        for action in batch {
            quit |= perform(update(&mut state, action), &net, &notifier);
        }
        // Keys typed meanwhile, each mapped in the mode the previous one left.
        while let Ok(event) = term_rx.try_recv() {
            if let Some(action) = to_action(event, &keymap, &state) {
                quit |= perform(update(&mut state, action), &net, &notifier);
            }
        }
    }
    net.close().await;
    drop(terminal);
    drop(guard);
    Ok(())
}

/// Carry out effects; true when the program should end.
fn perform(effects: Vec<Effect>, net: &NetWorker, notifier: &Notifier) -> bool {
    let mut quit = false;
    for effect in effects {
        match effect {
            Effect::Connect(target) => net.connect(target),
            Effect::Send(command) => net.send(command),
            Effect::Bell => notifier.bell(),
            Effect::Notify { title, body } => notifier.desktop(&title, &body),
            Effect::Quit => quit = true,
        }
    }
    quit
}
