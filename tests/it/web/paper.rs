//! The paper complaint's form (issue 24): its CSRF token is checked before any document is
//! read (it must come first, as the form sends it), the documents are streamed to disk within
//! the limit, and an upload over the limit is refused with the workspace's page, leaving
//! nothing behind: no case, no file.

use super::*;

on_both_databases!(paper_documents_are_streamed_to_disk_within_the_limit);

/// A multipart body of `parts`: (name, file name, content).
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, content) in parts {
        let file = file.map(|f| format!("; filename=\"{f}\"\r\nContent-Type: application/pdf")).unwrap_or_default();
        body.extend_from_slice(format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--XyZ--\r\n");
    body
}

async fn post(client: &mut Client, body: Vec<u8>) -> Reply {
    client.request("POST", "/paper", Some("multipart/form-data; boundary=XyZ"), &body).await
}

fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { bytes_under(&e.path()) } else { e.metadata().map(|m| m.len()).unwrap_or(0) }).sum()
}

fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { files_under(&e.path()) } else { 1 }).sum()
}

async fn paper_documents_are_streamed_to_disk_within_the_limit(db: Db) {
    let stack = MailStack::shared();
    let ann = format!("{}@dienst.test", unique("ann"));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let extra = format!("{ANSWER_ALL}[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n[web]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n");
    let w = World::with(db, stack, &extra).await;
    let daemon = w.start();
    let uploads = w.dir.path().join("data/uploads");
    eventually("the workspace listens", WAIT, || async { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok() }).await;
    let mut ann_client = sign_in_raw(stack, &base, &ann).await;
    let csrf = csrf_in(&ann_client.get("/paper").await.text());
    let texts = [("name", None, &b"Piet Post"[..]), ("received", None, b"2026-11-20"), ("description", None, b"Klacht per brief.")];

    // The token after a document: refused before the document is read.
    let mut parts = vec![("documents", Some("scan.pdf"), &b"%PDF-1.4 scan"[..]), ("csrf", None, csrf.as_bytes())];
    parts.extend(texts);
    assert_eq!(post(&mut ann_client, multipart(&parts)).await.status, 403);

    // Over the limit: the workspace's page, and nothing kept.
    let large = vec![b'x'; 31 * 1024 * 1024];
    let mut parts = vec![("csrf", None, csrf.as_bytes())];
    parts.extend(texts);
    parts.push(("documents", Some("groot.pdf"), &large));
    let refused = post(&mut ann_client, multipart(&parts)).await;
    assert_eq!(refused.status, 413);
    assert!(refused.text().contains("role=\"alert\""), "the workspace's page: {}", refused.text());
    assert_eq!(files_under(&uploads), 0, "no upload left behind");
    assert!(w.store().await.list_cases().await.unwrap().is_empty());

    // Within the limit, with an empty file input beside a document: one document.
    let scan = vec![b's'; 3 * 1024 * 1024];
    let mut parts = vec![("csrf", None, csrf.as_bytes())];
    parts.extend(texts);
    parts.push(("documents", Some(""), b""));
    parts.push(("documents", Some("scan brief.pdf"), &scan));
    let registered = post(&mut ann_client, multipart(&parts)).await;
    assert_eq!(registered.status, 200, "{}", registered.text());
    let cases = w.store().await.list_cases().await.unwrap();
    assert_eq!((cases.len(), cases[0].attachments), (1, 1));
    let detail = w.store().await.case_detail(&cases[0].reference).await.unwrap();
    assert_eq!(detail.attachment_list[0].filename, "scan_brief.pdf");
    assert_eq!(files_under(&uploads), 0, "the uploaded files are removed once registered");

    // Streamed: while a document is still arriving, what came of it is on disk already.
    let mut parts = vec![("csrf", None, csrf.as_bytes())];
    parts.extend(texts);
    parts.push(("documents", Some("lang.pdf"), &scan));
    let body = multipart(&parts);
    let cookies = ann_client.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST /paper HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookies}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let held_back = 1024 * 1024;
    conn.write_all(&body[..body.len() - held_back]).await.unwrap();
    eventually("the arriving document on disk", WAIT, || async { (bytes_under(&uploads) > 0).then_some(()) }).await;
    conn.write_all(&body[body.len() - held_back..]).await.unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer[..answer.len().min(300)]));
    assert_eq!(w.store().await.list_cases().await.unwrap().len(), 2);
    daemon.stop().await;
}
