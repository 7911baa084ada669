//! A small HTTP proxy between a daemon and moto that behaves like a stricter EC2: it serves
//! DescribeRouteTables in pages of `page_size` with a NextToken (moto returns everything in
//! one answer), refuses requests with EC2's throttling error or a server error on demand,
//! and counts the requests it sees per EC2 action.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Proxy {
    pub addr: SocketAddr,
    /// Requests seen, by EC2 action (each page counts).
    pub actions: Arc<Mutex<BTreeMap<String, usize>>>,
    /// How many of the next requests to refuse with EC2's throttling error.
    pub throttle: Arc<std::sync::atomic::AtomicUsize>,
    /// How many of the next requests to fail with a server error (500 InternalError).
    pub internal_errors: Arc<std::sync::atomic::AtomicUsize>,
    /// When each request arrived, in order.
    pub arrivals: Arc<Mutex<Vec<std::time::Instant>>>,
    task: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: String, page_size: usize) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let actions = Arc::new(Mutex::new(BTreeMap::new()));
        let throttle = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let internal_errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let counts = actions.clone();
        let refuse = (throttle.clone(), internal_errors.clone());
        let times = arrivals.clone();
        let client = reqwest::Client::new();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (client, upstream, counts, refuse, times) = (
                    client.clone(),
                    upstream.clone(),
                    counts.clone(),
                    refuse.clone(),
                    times.clone(),
                );
                tokio::spawn(async move {
                    let _ = serve(
                        stream,
                        &client,
                        &upstream,
                        page_size,
                        &counts,
                        (&refuse.0, &refuse.1),
                        &times,
                    )
                    .await;
                });
            }
        });
        Proxy {
            addr,
            actions,
            throttle,
            internal_errors,
            arrivals,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The most requests that arrived within any span of `window`.
    pub fn busiest(&self, window: std::time::Duration) -> usize {
        let times = self.arrivals.lock().expect("lock").clone();
        let mut first = 0;
        let mut most = 0;
        for (last, t) in times.iter().enumerate() {
            while t.duration_since(times[first]) >= window {
                first += 1;
            }
            most = most.max(last - first + 1);
        }
        most
    }

    pub fn count(&self, action: &str) -> usize {
        self.actions
            .lock()
            .expect("lock")
            .get(action)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    client: &reqwest::Client,
    upstream: &str,
    page_size: usize,
    counts: &Mutex<BTreeMap<String, usize>>,
    (throttle, internal_errors): (&std::sync::atomic::AtomicUsize, &std::sync::atomic::AtomicUsize),
    arrivals: &Mutex<Vec<std::time::Instant>>,
) -> std::io::Result<()> {
    loop {
        // Read one request: head, then a body of Content-Length bytes.
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        let mut length = 0;
        for line in lines.filter(|l| !l.is_empty()) {
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
        let params: Vec<(String, String)> = url_decode_form(&body);
        let action = params
            .iter()
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        *counts.lock().expect("lock").entry(action.clone()).or_default() += 1;
        arrivals.lock().expect("lock").push(std::time::Instant::now());
        let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let take = |n: &std::sync::atomic::AtomicUsize| {
            n.fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |n| n.checked_sub(1),
            )
            .is_ok()
        };
        let refusal = if take(throttle) {
            Some((
                "throttled",
                "503 Service Unavailable",
                "RequestLimitExceeded",
                "Request limit exceeded.",
            ))
        } else if take(internal_errors) {
            Some((
                "internal error",
                "500 Internal Server Error",
                "InternalError",
                "An internal error has occurred.",
            ))
        } else {
            None
        };
        if let Some((counter, status, code, message)) = refusal {
            *counts.lock().expect("lock").entry(counter.into()).or_default() += 1;
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>refused</RequestID></Response>"
            );
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).await?;
            continue;
        }

        let mut req = client.post(format!("{upstream}{path}")).body(body.clone());
        for (k, v) in &headers {
            if !k.eq_ignore_ascii_case("host") && !k.eq_ignore_ascii_case("content-length") {
                req = req.header(k, v);
            }
        }
        let resp = req.send().await.map_err(std::io::Error::other)?;
        let status = resp.status().as_u16();
        let mut text = resp.text().await.map_err(std::io::Error::other)?;
        if action == "DescribeRouteTables" && status == 200 {
            let offset = params
                .iter()
                .find(|(k, _)| k == "NextToken")
                .and_then(|(_, v)| v.strip_prefix("page-")?.parse().ok())
                .unwrap_or(0);
            text = paginate(&text, offset, page_size);
        }
        let response = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        stream.write_all(response.as_bytes()).await?;
    }
}

/// Keeps items `offset..offset + size` of `<routeTableSet>` and adds a `<nextToken>` when
/// more remain.
fn paginate(xml: &str, offset: usize, size: usize) -> String {
    let (Some(open), Some(close)) = (xml.find("<routeTableSet>"), xml.rfind("</routeTableSet>")) else {
        return xml.to_owned();
    };
    let inner_start = open + "<routeTableSet>".len();
    let inner = &xml[inner_start..close];
    let mut items = Vec::new();
    let (mut depth, mut start, mut i) = (0usize, 0usize, 0usize);
    while i < inner.len() {
        if inner[i..].starts_with("<item>") {
            if depth == 0 {
                start = i;
            }
            depth += 1;
            i += "<item>".len();
        } else if inner[i..].starts_with("</item>") {
            depth = depth.saturating_sub(1);
            i += "</item>".len();
            if depth == 0 {
                items.push(&inner[start..i]);
            }
        } else {
            i += inner[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    let page: String = items.iter().skip(offset).take(size).copied().collect();
    let mut out = format!("{}{}{}", &xml[..inner_start], page, &xml[close..]);
    if offset + size < items.len() {
        let token = format!("<nextToken>page-{}</nextToken>", offset + size);
        let end = out.rfind("</DescribeRouteTablesResponse>").unwrap_or(out.len());
        out.insert_str(end, &token);
    }
    out
}

fn url_decode_form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((decode(k), decode(v)))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
