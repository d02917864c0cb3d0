//! A small HTTP/1.1 server for the webhook target's tests: listens on
//! 127.0.0.1:0, records every request (with the status it answered and
//! when it arrived), and answers what a responder says. Keep-alive
//! connections are served until the client closes them. It runs on its own
//! thread and runtime, so sync tests (driving the binary) and async tests
//! (driving the sink) use it alike; dropping it stops it.

use logferry::record::Change;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
    /// The status the server answered.
    pub status: u16,
    /// Which connection it came on (numbered from 1 as accepted).
    pub conn: usize,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The body's events, read as canonical records.
    pub fn changes(&self) -> Vec<Change> {
        let events: Vec<serde_json::Value> = serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not a JSON array ({e}): {}", String::from_utf8_lossy(&self.body)));
        events
            .iter()
            .map(|e| logferry::record::json::read_change(&serde_json::to_vec(e).unwrap()).unwrap_or_else(|err| panic!("not a canonical record ({err}): {e}")))
            .collect()
    }

    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Close the connection after answering, without saying so.
    pub hang_up: bool,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply { status, headers: Vec::new(), body: String::new(), delay: Duration::ZERO, hang_up: false }
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
    pub fn hang_up(mut self) -> Self {
        self.hang_up = true;
        self
    }
}

type Responder = Box<dyn FnMut(&Request) -> Reply + Send>;

pub struct HttpServer {
    /// `http://127.0.0.1:<port>/changes`.
    pub url: String,
    log: Arc<Mutex<Vec<Request>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    /// Answers each request with what `respond` returns.
    pub fn start(respond: impl FnMut(&Request) -> Reply + Send + 'static) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/changes", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Mutex<Responder>> = Arc::new(Mutex::new(Box::new(respond)));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread_log = log.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let serve = async {
                    for conn in 1.. {
                        let Ok((socket, _)) = listener.accept().await else { continue };
                        tokio::spawn(serve_connection(socket, conn, thread_log.clone(), respond.clone()));
                    }
                };
                tokio::select! {
                    _ = stopped => {}
                    _ = serve => {}
                }
            });
        });
        HttpServer { url, log, stop: Some(stop), thread: Some(thread) }
    }

    /// Answers `statuses` in turn, then 200 to everything.
    pub fn scripted<const N: usize>(statuses: [u16; N]) -> Self {
        let mut script = statuses.into_iter();
        Self::start(move |_| Reply::status(script.next().unwrap_or(200)))
    }

    /// Every request so far, in the order they were answered.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// The changes of the accepted (2xx) requests, in arrival order.
    pub fn accepted_changes(&self) -> Vec<Change> {
        self.requests().iter().filter(|r| r.accepted()).flat_map(Request::changes).collect()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve_connection(socket: tokio::net::TcpStream, conn: usize, log: Arc<Mutex<Vec<Request>>>, respond: Arc<Mutex<Responder>>) {
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if read.read_line(&mut h).await.unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        if read.read_exact(&mut body).await.is_err() {
            return;
        }
        let mut request = Request { method, path, headers, body, at: Instant::now(), status: 0, conn };
        let reply = (respond.lock().unwrap())(&request);
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        // Logged before the answer goes out: once the client has it, the log has the request.
        request.status = reply.status;
        log.lock().unwrap().push(request);
        let mut out = format!("HTTP/1.1 {} Test\r\nContent-Length: {}\r\n", reply.status, reply.body.len());
        for (n, v) in &reply.headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&reply.body);
        if write.write_all(out.as_bytes()).await.is_err() || reply.hang_up {
            return;
        }
    }
}
