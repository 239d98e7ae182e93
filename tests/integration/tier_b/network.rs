//! Network modules: `get_url`, `uri` and `wait_for` on Tier-B hosts. The
//! HTTP server is a small Perl script (Perl is part of every Debian host,
//! Python is not on the no-Python variant) started inside the test host on
//! its own address, so no packet leaves the run's /24; it dies with the
//! host's PID namespace.

use super::{converge, variants};
use crate::support::testhosts::TestHost;
use crate::support::{assert_has_line, play, Test, TestHosts};

const PORT: u16 = 8080;
const ROOT: &str = "/srv/www";
const USER: &str = "alice";
const PASSWORD: &str = "p@ss w0rd";

/// The server: GET/HEAD of files under its root, `/status/NNN`,
/// `/redirect/PATH`, `/private/PATH` behind basic auth, and `/echo`, which
/// answers any method with a JSON description of the request.
const SERVER: &str = r#"
use strict; use IO::Socket::INET;
my ($ip, $port, $root, $auth) = @ARGV;
my $srv = IO::Socket::INET->new(LocalAddr => $ip, LocalPort => $port, Listen => 16, ReuseAddr => 1) or die "listen: $!";
$SIG{PIPE} = 'IGNORE';
while (my $c = $srv->accept) { binmode $c; eval { handle($c) }; close $c; }
sub esc { my $s = shift; $s =~ s/(["\\])/\\$1/g; $s =~ s/\n/\\n/g; $s =~ s/([\x00-\x1f])/sprintf("\\u%04x", ord $1)/ge; $s }
sub reply {
  my ($c, $code, $reason, $hdrs, $body, $head) = @_;
  print $c "HTTP/1.0 $code $reason\r\n";
  print $c "$_\r\n" for @$hdrs;
  print $c "Content-Length: " . length($body) . "\r\n\r\n";
  print $c $body unless $head;
}
sub handle {
  my $c = shift;
  my $line = <$c> // return; $line =~ s/\r?\n$//;
  my ($m, $path) = split / /, $line;
  my %h;
  while (my $l = <$c>) { $l =~ s/\r?\n$//; last if $l eq ''; my ($k, $v) = split /:\s*/, $l, 2; $h{lc $k} = $v; }
  my $body = ''; if (my $n = $h{'content-length'}) { read($c, $body, $n); }
  my $head = $m eq 'HEAD';
  $path =~ s/\?.*//;
  return reply($c, $1, "Status", [], "status $1\n", $head) if $path =~ m{^/status/(\d+)$};
  return reply($c, 302, "Found", ["Location: $1"], "", $head) if $path =~ m{^/redirect(/.*)$};
  if ($path eq '/echo') {
    my $j = '{"method": "' . esc($m) . '", "body": "' . esc($body) . '", "content_type": "'
      . esc($h{'content-type'} // '') . '", "x_test": "' . esc($h{'x-test'} // '') . '"}';
    return reply($c, 200, "OK", ["Content-Type: application/json", "X-Served-By: stead-test"], $j, $head);
  }
  if ($path =~ m{^/private/}) {
    return reply($c, 401, "Unauthorized", ['WWW-Authenticate: Basic realm="test"'], "no\n", $head)
      unless ($h{authorization} // '') eq $auth;
    $path =~ s{^/private}{};
  }
  $path =~ s{\.\.}{}g;
  my $f = "$root$path";
  if (-f $f && open(my $fh, '<:raw', $f)) {
    local $/; my $d = <$fh>;
    my $t = $f =~ /\.json$/ ? 'application/json' : 'application/octet-stream';
    return reply($c, 200, "OK", ["Content-Type: $t"], $d, $head);
  }
  reply($c, 404, "File not found", [], "not found\n", $head);
}
"#;

fn base64(data: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Test files served from [`ROOT`]: `files/data.txt` and its `SHA256SUMS`,
/// `files/blob.bin`, `files/doc.json`, `secret.txt` (also under `/private`).
const DATA: &str = "hello from the server\n";

/// Starts the server inside `host`, on its own address, and waits for it.
/// Returns the base URL.
fn serve(hosts: &TestHosts, host: &TestHost) -> String {
    let auth = format!("Basic {}", base64(format!("{USER}:{PASSWORD}").as_bytes()));
    hosts.sh(
        host,
        &format!(
            "set -e\nmkdir -p {ROOT}/files\ncd {ROOT}/files\nprintf '{DATA}' > data.txt\n\
             sha256sum data.txt > SHA256SUMS\nprintf 'sha512 garbage  other.txt\\n' >> SHA256SUMS\n\
             head -c 3000 /dev/zero | tr '\\0' 'x' > blob.bin\n\
             printf '{{\"name\": \"stead\", \"list\": [1, 2]}}' > doc.json\nprintf 'top secret\\n' > ../secret.txt\n\
             cat > /srv/server.pl <<'EOF'\n{SERVER}\nEOF\n\
             setsid perl /srv/server.pl {ip} {PORT} {ROOT} '{auth}' </dev/null >/dev/null 2>&1 &\n\
             i=0; until perl -MIO::Socket::INET -e 'exit !IO::Socket::INET->new(PeerAddr => shift)' {ip}:{PORT}; do\n\
             i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done\n",
            ip = host.ip
        ),
    );
    format!("http://{}:{PORT}", host.ip)
}

fn blob_sha256(hosts: &TestHosts, host: &TestHost) -> String {
    hosts.sh(host, &format!("sha256sum {ROOT}/files/blob.bin")).split_whitespace().next().unwrap().to_owned()
}

fn get_url_tasks(base: &str, blob_sum: &str) -> String {
    format!(
        r#"
        - name: into a directory
          get_url:
            url: {base}/files/data.txt
            dest: /opt/dl/
            mode: "0640"
        - name: with a checksum
          ansible.builtin.get_url:
            url: {base}/files/blob.bin
            dest: /opt/dl/blob.bin
            checksum: "sha256:{blob_sum}"
        - name: checksum from a file
          get_url:
            url: {base}/files/data.txt
            dest: /opt/dl/data-copy.txt
            checksum: "sha256:{base}/files/SHA256SUMS"
        - name: behind basic auth
          get_url:
            url: {base}/private/secret.txt
            dest: /opt/dl/secret.txt
            url_username: {USER}
            url_password: "{PASSWORD}"
            force_basic_auth: true
        "#
    )
}

#[test]
fn get_url_downloads_verifies_and_converges() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        let base = serve(&hosts, host);
        hosts.sh(host, "mkdir -p /opt/dl");
        let tasks = get_url_tasks(&base, &blob_sha256(&hosts, host));
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(&tasks));
        let real = converge(&test, &hosts, 4);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(hosts.sh(host, "cat /opt/dl/data.txt"), DATA, "{e}");
        assert_eq!(hosts.sh(host, "stat -c %a /opt/dl/data.txt").trim(), "640", "{e}");
        assert_eq!(hosts.sh(host, "cat /opt/dl/data-copy.txt"), DATA, "{e}");
        assert_eq!(hosts.sh(host, "wc -c < /opt/dl/blob.bin").trim(), "3000", "{e}");
        assert_eq!(hosts.sh(host, "cat /opt/dl/secret.txt"), "top secret\n", "{e}");
        assert_eq!(hosts.sh(host, "ls -A /opt/dl | wc -l").trim(), "4", "{e}: temporary files left");
        assert!(!real.stdout.contains(PASSWORD) && !real.stderr.contains(PASSWORD), "{e}: password shown");
    }
}

#[test]
fn get_url_plan_shows_the_download_and_a_changed_file_is_fetched_again() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let base = serve(&hosts, host);
    hosts.sh(host, "mkdir -p /opt/dl");
    let sum = blob_sha256(&hosts, host);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(&get_url_tasks(&base, &sum)));
    let plan = test.run_args(["plan", "site.yml"]);
    plan.assert_status(0).assert_changed(4);
    assert_has_line(&plan, "-state: absent");
    assert_has_line(&plan, &format!("+url: {base}/files/blob.bin"));
    assert_has_line(&plan, &format!("+content: sha256:{sum}"));
    assert!(!plan.stdout.contains(PASSWORD));
    assert_eq!(hosts.sh(host, "ls -A /opt/dl | wc -l").trim(), "0", "plan downloaded");
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(4);
    // Damage the checksummed file: the next run sees it and downloads again.
    hosts.sh(host, "echo broken > /opt/dl/blob.bin");
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(1);
    let again = test.run_args(["apply", "site.yml"]);
    again.assert_status(0).assert_changed(1);
    assert_eq!(hosts.sh(host, "wc -c < /opt/dl/blob.bin").trim(), "3000");
}

#[test]
fn get_url_failures_leave_nothing_behind() {
    for engine in crate::support::oracle::engines() {
        let Some(hosts) = TestHosts::up(1) else { return };
        let host = hosts.host(0);
        let base = serve(&hosts, host);
        hosts.sh(host, "mkdir -p /opt/dl");
        let tasks = format!(
            r#"
            - name: wrong checksum
              get_url:
                url: {base}/files/blob.bin
                dest: /opt/dl/blob.bin
                checksum: "sha256:{zero}"
              register: bad_sum
              ignore_errors: true
            - name: missing
              get_url:
                url: {base}/files/nothing-here
                dest: /opt/dl/nothing
              register: missing
              ignore_errors: true
            - name: results
              assert:
                that:
                  - bad_sum is failed
                  - "'did not match' in bad_sum.msg"
                  - missing is failed
                  - missing.status_code == 404
                  - missing.msg == 'Request failed'
            "#,
            zero = "0".repeat(64)
        );
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(&tasks));
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0);
        let e = engine.name();
        assert_eq!(out.task("h1", "results")["status"], "ok", "{e}: {}", out.stdout);
        assert_eq!(hosts.sh(host, "ls -A /opt/dl | wc -l").trim(), "0", "{e}: files left");
    }
}

#[test]
fn get_url_falls_back_to_wget_when_curl_is_missing() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let base = serve(&hosts, host);
    hosts.sh(host, "mkdir -p /opt/dl && rm -f /usr/bin/curl && ! command -v curl");
    let tasks = get_url_tasks(&base, &blob_sha256(&hosts, host));
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(&tasks));
    converge(&test, &hosts, 4);
    assert_eq!(hosts.sh(host, "cat /opt/dl/data.txt /opt/dl/secret.txt"), format!("{DATA}top secret\n"));
    assert_eq!(hosts.sh(host, "ls -A /opt/dl | wc -l").trim(), "4");
}

fn uri_tasks(base: &str) -> String {
    format!(
        r#"
        - name: a JSON document
          uri:
            url: {base}/files/doc.json
            return_content: true
          register: doc
        - name: a JSON body
          ansible.builtin.uri:
            url: {base}/echo
            method: POST
            body_format: json
            body: {{name: stead, n: 1}}
            headers:
              X-Test: yes-header
          register: echo
        - name: a form
          uri:
            url: {base}/echo
            method: PUT
            body_format: form-urlencoded
            body:
              q: a b
              n: [1, 2]
          register: form
        - name: a redirect
          uri:
            url: {base}/redirect/files/doc.json
          register: redir
        - name: another status
          uri:
            url: {base}/status/201
            status_code: [200, 201]
          register: created
        - name: behind basic auth
          uri:
            url: {base}/private/secret.txt
            user: {USER}
            password: "{PASSWORD}"
            force_basic_auth: true
            return_content: true
          register: auth
        - name: results
          assert:
            that:
              - doc.status == 200
              - doc.json.name == 'stead'
              - doc.json.list == [1, 2]
              - doc.content_type == 'application/json'
              - doc.content is defined
              - doc is not changed
              - echo.json.method == 'POST'
              - "echo.json.body == '{{\"name\": \"stead\", \"n\": 1}}'"
              - echo.json.content_type == 'application/json'
              - echo.json.x_test == 'yes-header'
              - echo.x_served_by == 'stead-test'
              - echo.content is not defined
              - form.json.body == 'q=a+b&n=1&n=2'
              - form.json.method == 'PUT'
              - form.json.content_type == 'application/x-www-form-urlencoded'
              - redir.redirected
              - redir.url == '{base}/files/doc.json'
              - not doc.redirected
              - created.status == 201
              - auth.content == 'top secret\n'
          when: not ansible_check_mode
        "#
    )
}

#[test]
fn uri_requests_report_status_headers_and_json() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        let base = serve(&hosts, host);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(&uri_tasks(&base)));
        let real = converge(&test, &hosts, 0);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(real.task("h1", "results")["status"], "ok", "{e}: {}", real.stdout);
        assert!(!real.stdout.contains(PASSWORD), "{e}: password shown");
    }
}

#[test]
fn uri_writes_dest_once_is_skipped_in_check_mode_and_fails_on_a_bad_status() {
    for engine in crate::support::oracle::engines() {
        let Some(hosts) = TestHosts::up(1) else { return };
        let host = hosts.host(0);
        let base = serve(&hosts, host);
        let tasks = format!(
            r#"
            - name: save
              uri:
                url: {base}/files/doc.json
                dest: /opt/doc.json
                creates: /opt/doc.json
                mode: "0600"
            - name: missing
              uri:
                url: {base}/files/none
              register: missing
              ignore_errors: true
            - name: results
              assert:
                that:
                  - missing is failed
                  - missing.status == 404
                  - "missing.msg == 'Status code was 404 and not [200]: HTTP Error 404: File not found'"
              when: not ansible_check_mode
            "#
        );
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(&tasks));
        let e = engine.name();
        let plan = test.run_args(["apply", "site.yml", "--check"]);
        plan.assert_status(0).assert_changed(0);
        assert_eq!(plan.task("h1", "save")["status"], "skipped", "{e}: {}", plan.stdout);
        assert_eq!(hosts.sh(host, "ls /opt/doc.json 2>/dev/null | wc -l").trim(), "0", "{e}");
        let real = test.run_args(["apply", "site.yml"]);
        real.assert_status(0).assert_changed(1);
        assert_eq!(real.task("h1", "results")["status"], "ok", "{e}: {}", real.stdout);
        assert_eq!(hosts.sh(host, "stat -c %a /opt/doc.json").trim(), "600", "{e}");
        assert!(hosts.sh(host, "cat /opt/doc.json").contains("stead"), "{e}");
        test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(0);
    }
}

fn wait_for_tasks(ip: &str) -> String {
    format!(
        r#"
        - name: the web port
          wait_for:
            host: {ip}
            port: {PORT}
            timeout: 10
          register: port
        - name: a closed port
          ansible.builtin.wait_for:
            host: {ip}
            port: 8099
            state: stopped
            timeout: 5
        - name: a line in a file
          wait_for:
            path: {ROOT}/files/data.txt
            search_regex: '^hello from (?P<who>\w+) (server)$'
            timeout: 5
          register: line
        - name: a missing file
          wait_for:
            path: /nonexistent/file
            state: absent
            timeout: 5
        - name: the ssh banner
          wait_for:
            host: {ip}
            port: 22
            search_regex: OpenSSH
            timeout: 10
        - name: no connections
          wait_for:
            host: 0.0.0.0
            port: 8099
            state: drained
            timeout: 5
        - name: results
          assert:
            that:
              - port is not changed
              - port.state == 'started'
              - port.port == {PORT}
              - port.path == None
              - line.match_groupdict.who == 'the'
              - line.match_groups == ['the', 'server']
              - line.path == '{ROOT}/files/data.txt'
              - line.state == 'file'
          when: not ansible_check_mode
        "#
    )
}

#[test]
fn wait_for_ports_files_strings_and_drains() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        serve(&hosts, host);
        let tasks = wait_for_tasks(&host.ip);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(&tasks));
        let real = converge(&test, &hosts, 0);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(real.task("h1", "results")["status"], "ok", "{e}: {}", real.stdout);
    }
}

#[test]
fn wait_for_polls_until_a_file_appears_and_times_out_with_msg() {
    for engine in crate::support::oracle::engines() {
        let Some(hosts) = TestHosts::up(1) else { return };
        let host = hosts.host(0);
        let tasks = format!(
            r#"
            - name: start a writer
              shell: setsid sh -c 'sleep 2; touch /tmp/appears' </dev/null >/dev/null 2>&1 &
            - name: later
              wait_for:
                path: /tmp/appears
                timeout: 20
              register: later
            - name: closed
              wait_for:
                host: {ip}
                port: 8099
                timeout: 2
              register: closed
              ignore_errors: true
            - name: custom
              wait_for:
                path: /tmp/never
                timeout: 1
                msg: the file never came
              register: custom
              ignore_errors: true
            - name: results
              assert:
                that:
                  - later.elapsed >= 1
                  - closed is failed
                  - closed.msg == 'Timeout when waiting for {ip}:8099'
                  - closed.elapsed >= 2
                  - custom.msg == 'the file never came'
            "#,
            ip = host.ip
        );
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(&tasks));
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0);
        let e = engine.name();
        assert_eq!(out.task("h1", "results")["status"], "ok", "{e}: {}", out.stdout);
        assert_eq!(out.task("h1", "closed")["status"], "failed", "{e}");
    }
}

/// Builds the test archives inside the host: `app.tar.gz` (app/a.txt,
/// app/b.txt, app/sub/c.txt) and `app.zip` (z/one.txt, z/skip.txt).
fn make_archives(hosts: &TestHosts, host: &TestHost) {
    hosts.sh(
        host,
        &format!(
            "set -e\nmkdir -p {ROOT}/files /tmp/build/app/sub /tmp/build/z\ncd /tmp/build\n\
             printf 'a\\n' > app/a.txt; printf 'b\\n' > app/b.txt; printf 'c\\n' > app/sub/c.txt\n\
             printf '1\\n' > z/one.txt; printf 'skip\\n' > z/skip.txt\n\
             tar -czf {ROOT}/files/app.tar.gz app\nzip -qr {ROOT}/files/app.zip z\nrm -rf /tmp/build\n\
             mkdir -p /opt/app /opt/site /opt/zip"
        ),
    );
}

/// A tar.xz built on the controller, for `src` without `remote_src`.
fn controller_archive() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("site/html")).unwrap();
    std::fs::write(dir.path().join("site/html/index.html"), "<h1>hi</h1>\n").unwrap();
    let out = dir.path().join("site.tar.xz");
    let ok =
        std::process::Command::new("tar").arg("-cJf").arg(&out).arg("-C").arg(dir.path()).arg("site").status().unwrap();
    assert!(ok.success());
    std::fs::read(out).unwrap()
}

const UNARCHIVE_TASKS: &str = r#"
- name: a tarball on the host
  unarchive:
    src: /srv/www/files/app.tar.gz
    dest: /opt/app
    remote_src: true
    list_files: true
  register: tgz
- name: a tarball from the controller
  ansible.builtin.unarchive:
    src: site.tar.xz
    dest: /opt/site
    mode: "u=rwX,g=rX,o="
  register: txz
- name: results
  assert:
    that:
      - tgz.handler == 'TgzArchive'
      - "'app/sub/c.txt' in tgz.files"
      - tgz.dest == '/opt/app'
      - txz.handler == 'TarArchive'
  when: not ansible_check_mode
"#;

#[test]
fn unarchive_unpacks_tarballs_once_and_restores_a_changed_file() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        make_archives(&hosts, host);
        let test = Test::new()
            .engine(&engine)
            .testhost("h1", &hosts, host)
            .file("site.yml", play(UNARCHIVE_TASKS))
            .file("files/site.tar.xz", controller_archive());
        let e = format!("{} {options:?}", engine.name());
        // Check mode: tar archives are skipped, as Ansible skips them; the
        // host is untouched.
        let before = hosts.upper_hash(host);
        let check = test.run_args(["apply", "site.yml", "--check"]);
        check.assert_status(0).assert_changed(0);
        assert_eq!(check.task("h1", "a tarball on the host")["status"], "skipped", "{e}");
        assert_eq!(before, hosts.upper_hash(host), "{e}: --check modified the host");
        let real = test.run_args(["apply", "site.yml"]);
        real.assert_status(0).assert_changed(2);
        assert_eq!(real.task("h1", "results")["status"], "ok", "{e}: {}", real.stdout);
        assert_eq!(hosts.sh(host, "cat /opt/app/app/a.txt /opt/app/app/sub/c.txt"), "a\nc\n", "{e}");
        assert_eq!(hosts.sh(host, "cat /opt/site/site/html/index.html"), "<h1>hi</h1>\n", "{e}");
        assert_eq!(
            hosts.sh(host, "stat -c %a /opt/site/site/html /opt/site/site/html/index.html"),
            "750\n640\n",
            "{e}"
        );
        test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(0);
        hosts.sh(host, "echo changed > /opt/app/app/b.txt");
        test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(1);
        assert_eq!(hosts.sh(host, "cat /opt/app/app/b.txt"), "b\n", "{e}");
    }
}

const ZIP_TASKS: &str = r#"
- name: a zip on the host
  unarchive:
    src: /srv/www/files/app.zip
    dest: /opt/zip
    remote_src: true
    exclude: [z/skip.txt]
"#;

#[test]
fn unarchive_zip_converges() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        make_archives(&hosts, host);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(ZIP_TASKS));
        converge(&test, &hosts, 1);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(hosts.sh(host, "cat /opt/zip/z/one.txt"), "1\n", "{e}");
        assert_eq!(hosts.sh(host, "ls /opt/zip/z"), "one.txt\n", "{e}: excluded file unpacked");
    }
}

#[test]
fn unarchive_plan_shows_a_drifted_zip_and_failures_are_clear() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    make_archives(&hosts, host);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(ZIP_TASKS));
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(1);
    hosts.sh(host, "echo drift > /opt/zip/z/one.txt");
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(1);
    assert_has_line(&plan, "-archive: differs");
    assert_has_line(&plan, "+archive: unpacked from /srv/www/files/app.zip");
    assert_eq!(hosts.sh(host, "cat /opt/zip/z/one.txt"), "drift\n");
    for engine in crate::support::oracle::engines() {
        let failing = Test::new().engine(&engine).testhost("h1", &hosts, host).file(
            "site.yml",
            play(
                r#"
                - name: no source
                  unarchive: {src: /nonexistent.tar.gz, dest: /opt/app, remote_src: true}
                  register: nosrc
                  ignore_errors: true
                - name: no dest
                  unarchive: {src: /srv/www/files/app.tar.gz, dest: /nonexistent, remote_src: true}
                  register: nodest
                  ignore_errors: true
                - name: results
                  assert:
                    that:
                      - nosrc is failed
                      - "nosrc.msg == \"Source '/nonexistent.tar.gz' does not exist\""
                      - nodest is failed
                      - "nodest.msg == \"dest '/nonexistent' must be an existing dir\""
                "#,
            ),
        );
        let out = failing.run_args(["apply", "site.yml"]);
        out.assert_status(0);
        assert_eq!(out.task("h1", "results")["status"], "ok", "{}: {}", engine.name(), out.stdout);
    }
}
