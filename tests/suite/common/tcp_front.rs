//! A TCP front between an operator and the kube-apiserver, run by the test:
//! it passes bytes through, delays every chunk, holds them (a partition:
//! nothing is lost, nothing arrives until it heals) or resets every
//! connection. TLS passes through untouched; the operator's kubeconfig
//! names the front instead of the server.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, tcp::OwnedReadHalf, tcp::OwnedWriteHalf},
    sync::watch,
};

/// What the front does with the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Every chunk, either way, waits this long.
    Delay(Duration),
    /// Nothing is forwarded (and no new connection reaches the server)
    /// until the mode changes; then what was held flows.
    Blackhole,
    /// Every connection is reset, and new ones as soon as they come.
    Reset,
}

/// The running front; dropped with the test's runtime.
pub struct TcpFront {
    pub port: u16,
    mode: watch::Sender<Mode>,
}

impl TcpFront {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`
    /// (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("its address").port();
        let (mode, watching) = watch::channel(Mode::Pass);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let watching = watching.clone();
                let upstream = upstream.clone();
                tokio::spawn(connection(client, upstream, watching));
            }
        });
        Self { port, mode }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// A copy of `kubeconfig` whose server is this front, in `dir`.
    pub fn kubeconfig(&self, kubeconfig: &Path, dir: &Path) -> PathBuf {
        let text = std::fs::read_to_string(kubeconfig).expect("the kubeconfig");
        let server = server_of(&text);
        let front = format!("https://127.0.0.1:{}", self.port);
        std::fs::create_dir_all(dir).expect("a directory for the kubeconfig");
        let path = dir.join(format!("kubeconfig-front-{}", self.port));
        std::fs::write(&path, text.replace(&server, &front)).expect("writing the kubeconfig");
        path
    }
}

/// The `host:port` of the server `kubeconfig` names.
pub fn upstream_of(kubeconfig: &Path) -> String {
    let text = std::fs::read_to_string(kubeconfig).expect("the kubeconfig");
    server_of(&text)
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned()
}

/// The `server:` URL of a kubeconfig's text.
fn server_of(text: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("a server in the kubeconfig")
        .trim()
        .to_owned()
}

async fn connection(client: TcpStream, upstream: String, mut mode: watch::Receiver<Mode>) {
    // A partitioned server is not reached; a reset one refuses.
    loop {
        let now = *mode.borrow_and_update();
        match now {
            Mode::Reset => return,
            Mode::Blackhole => {
                if mode.changed().await.is_err() {
                    return;
                }
            }
            Mode::Pass | Mode::Delay(_) => break,
        }
    }
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        () = pump(client_read, server_write, mode.clone()) => {}
        () = pump(server_read, client_write, mode) => {}
    }
}

/// Copies `from` to `to` chunk by chunk, as the mode says; ends (dropping
/// both halves: a reset) when either side closes or the mode is Reset.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = mode.changed() => {
                if changed.is_err() || *mode.borrow() == Mode::Reset {
                    return;
                }
                continue;
            }
        };
        loop {
            let now = *mode.borrow_and_update();
            match now {
                Mode::Reset => return,
                Mode::Blackhole => {
                    if mode.changed().await.is_err() {
                        return;
                    }
                }
                Mode::Delay(d) => {
                    tokio::time::sleep(d).await;
                    break;
                }
                Mode::Pass => break,
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
