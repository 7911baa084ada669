//! A small fake of the EC2 instance metadata service (IMDSv2) for one simulated instance.
//!
//! It implements what the SDK's IMDS client uses: `PUT /latest/api/token` hands out a session
//! token, and `GET` requests must carry it (401 otherwise, as IMDSv2 requires). Paths not in
//! the map are 404. Runs on its own thread on a free loopback port until dropped.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "fake-imds-session-token";

pub struct FakeImds {
    pub addr: SocketAddr,
    values: Arc<Mutex<BTreeMap<String, String>>>,
    stop: Arc<AtomicBool>,
    /// Number of GET requests served (answered 200).
    pub gets: Arc<AtomicUsize>,
}

/// The metadata of one instance, as IMDS would present it.
#[derive(Debug, Clone)]
pub struct InstanceMetadata {
    pub instance_id: String,
    pub az: String,
    pub region: String,
    pub local_ipv4: String,
    pub mac: String,
    pub subnet_id: String,
    pub vpc_id: String,
}

impl InstanceMetadata {
    fn paths(&self) -> BTreeMap<String, String> {
        let m = "/latest/meta-data";
        let iface = format!("{m}/network/interfaces/macs/{}", self.mac);
        BTreeMap::from([
            (format!("{m}/instance-id"), self.instance_id.clone()),
            (format!("{m}/placement/availability-zone"), self.az.clone()),
            (format!("{m}/placement/region"), self.region.clone()),
            (format!("{m}/local-ipv4"), self.local_ipv4.clone()),
            (format!("{m}/mac"), self.mac.clone()),
            (format!("{iface}/subnet-id"), self.subnet_id.clone()),
            (format!("{iface}/vpc-id"), self.vpc_id.clone()),
        ])
    }
}

impl FakeImds {
    pub fn start(meta: &InstanceMetadata) -> FakeImds {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake IMDS");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let values = Arc::new(Mutex::new(meta.paths()));
        let stop = Arc::new(AtomicBool::new(false));
        let gets = Arc::new(AtomicUsize::new(0));
        let (v, s, g) = (values.clone(), stop.clone(), gets.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        // One thread per connection: the SDK keeps connections alive.
                        let (v, g) = (v.clone(), g.clone());
                        std::thread::spawn(move || serve(stream, &v, &g));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeImds {
            addr,
            values,
            stop,
            gets,
        }
    }

    /// The URL for `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes or adds one metadata path.
    pub fn set(&self, path: &str, value: &str) {
        self.values
            .lock()
            .expect("lock")
            .insert(path.into(), value.into());
    }
}

impl Drop for FakeImds {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    stream: TcpStream,
    values: &Mutex<BTreeMap<String, String>>,
    gets: &AtomicUsize,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("").to_owned());
        let mut headers = BTreeMap::new();
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                if k == "content-length" {
                    content_length = v.trim().parse().unwrap_or(0);
                }
                headers.insert(k, v.trim().to_owned());
            }
        }
        if content_length > 0 {
            let mut body = vec![0; content_length];
            std::io::Read::read_exact(&mut reader, &mut body)?;
        }
        let (status, body) = match (method, path.as_str()) {
            ("PUT", "/latest/api/token") => {
                if headers.contains_key("x-aws-ec2-metadata-token-ttl-seconds") {
                    ("200 OK", TOKEN.to_owned())
                } else {
                    ("400 Bad Request", String::new())
                }
            }
            ("GET", p) => {
                if headers.get("x-aws-ec2-metadata-token").map(String::as_str) != Some(TOKEN) {
                    ("401 Unauthorized", String::new())
                } else {
                    match values.lock().expect("lock").get(p) {
                        Some(v) => {
                            gets.fetch_add(1, Ordering::Relaxed);
                            ("200 OK", v.clone())
                        }
                        None => ("404 Not Found", String::new()),
                    }
                }
            }
            _ => ("405 Method Not Allowed", String::new()),
        };
        let mut out = stream.try_clone()?;
        write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nX-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600\r\n\r\n{body}",
            body.len()
        )?;
        out.flush()?;
    }
}
