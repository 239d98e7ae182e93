//! Behaviour of the whole inventory stage, from files on disk.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::*;

/// Writes `text` to `dir/rel`, creating parent directories.
fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// An inventory from one file named `name` holding `text`.
fn inventory(name: &str, text: &str) -> (tempfile::TempDir, Inventory) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), name, text);
    let inv = Inventory::load(&[path]).unwrap();
    (dir, inv)
}

fn load_err(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), name, text);
    Inventory::load(&[path]).unwrap_err().to_string()
}

fn var(inv: &Inventory, host: &str, name: &str) -> Value {
    inv.host_vars(host).unwrap().get(name).cloned().unwrap_or(Value::Null)
}

const NESTED: &str = "\
all:
  vars:
    level: all
    from_all: 1
  hosts:
    lonely:
  children:
    prod:
      vars:
        level: prod
      children:
        web:
          vars:
            level: web
          hosts:
            web1:
            web2:
              level: host
        db:
          hosts:
            db1:
              ansible_port: 2222
";

#[test]
fn nested_groups_merge_vars_from_all_to_parent_to_child_to_host() {
    let (_d, inv) = inventory("hosts.yml", NESTED);
    assert_eq!(inv.hosts(), ["lonely", "web1", "web2", "db1"]);
    assert_eq!(var(&inv, "lonely", "level"), json!("all"));
    assert_eq!(var(&inv, "db1", "level"), json!("prod"));
    assert_eq!(var(&inv, "web1", "level"), json!("web"));
    assert_eq!(var(&inv, "web2", "level"), json!("host"));
    assert_eq!(var(&inv, "web2", "from_all"), json!(1));
    assert_eq!(var(&inv, "db1", "ansible_port"), json!(2222));
}

#[test]
fn deeper_groups_win_even_when_listed_first() {
    let (_d, inv) = inventory(
        "hosts.yml",
        "\
zeta:
  children:
    alpha:
      hosts: {h: }
  vars: {x: zeta}
alpha:
  vars: {x: alpha}
",
    );
    assert_eq!(var(&inv, "h", "x"), json!("alpha"));
}

#[test]
fn same_depth_groups_merge_by_name_unless_priority_says_otherwise() {
    let text = "\
a:
  hosts: {h: }
  vars: {x: a}
b:
  hosts: {h: }
  vars: {x: b}
";
    let (_d, inv) = inventory("hosts.yml", text);
    assert_eq!(var(&inv, "h", "x"), json!("b"));
    let with_priority = text.replace("vars: {x: a}", "vars: {x: a, ansible_group_priority: 10}");
    let (_d, inv) = inventory("hosts.yml", &with_priority);
    assert_eq!(var(&inv, "h", "x"), json!("a"));
}

#[test]
fn a_host_in_several_groups_is_one_host_with_merged_vars() {
    let (_d, inv) = inventory(
        "hosts.yml",
        "\
web:
  hosts:
    h1: {a: 1}
db:
  hosts:
    h1: {b: 2}
",
    );
    assert_eq!(inv.hosts(), ["h1"]);
    assert_eq!(var(&inv, "h1", "a"), json!(1));
    assert_eq!(var(&inv, "h1", "b"), json!(2));
    assert_eq!(var(&inv, "h1", "group_names"), json!(["db", "web"]));
}

#[test]
fn yaml_inventory_values_follow_yaml_1_1() {
    let (_d, inv) =
        inventory("hosts.yml", "all:\n  hosts:\n    h:\n      flag: yes\n      mode: 0644\n      name: \"yes\"\n");
    assert_eq!(var(&inv, "h", "flag"), json!(true));
    assert_eq!(var(&inv, "h", "mode"), json!(0o644));
    assert_eq!(var(&inv, "h", "name"), json!("yes"));
}

#[test]
fn host_ranges_and_ports_in_yaml_keys_expand() {
    let (_d, inv) =
        inventory("hosts.yml", "all:\n  hosts:\n    web[01:03].example.com:\n    db-[a:b]:2222:\n      role: db\n");
    assert_eq!(inv.hosts(), ["web01.example.com", "web02.example.com", "web03.example.com", "db-a", "db-b"]);
    assert_eq!(var(&inv, "db-b", "ansible_port"), json!(2222));
    assert_eq!(var(&inv, "db-b", "role"), json!("db"));
}

#[test]
fn unknown_key_in_a_group_is_located_with_a_did_you_mean() {
    let err = load_err("hosts.yml", "all:\n  hostz:\n    web1:\n");
    assert!(err.contains("hosts.yml:2:3: unknown key `hostz` in group `all`"), "{err}");
    assert!(err.contains("hint: did you mean `hosts`?"), "{err}");
}

#[test]
fn hosts_written_as_a_list_is_an_error_with_a_hint() {
    let err = load_err("hosts.yml", "all:\n  hosts:\n    - web1\n");
    assert!(err.contains("hosts.yml:3:5: `hosts` of group `all` must be a mapping"), "{err}");
    assert!(err.contains("hint: write each host as `name:`"), "{err}");
}

#[test]
fn bad_ranges_and_group_loops_are_located_errors() {
    let err = load_err("hosts.yml", "all:\n  hosts:\n    web[3:1]:\n");
    assert!(err.contains("hosts.yml:3:5: bad host range in `web[3:1]`"), "{err}");
    let err = load_err("hosts.yml", "a:\n  children:\n    b:\n      children:\n        a:\n");
    assert!(err.contains("hosts.yml:5:9: group `a` cannot be a child of `b`"), "{err}");
}

#[test]
fn yaml_syntax_errors_keep_their_location() {
    let err = load_err("hosts.yml", "all:\n  hosts: [\n");
    assert!(err.contains("hosts.yml:"), "{err}");
    assert!(err.contains("YAML syntax error"), "{err}");
}

const INI: &str = "\
# comment
lonely ansible_host=10.0.0.9

[web]
web[1:2].example.com http_port=8080 debug=True ratio=0.5
web3:2200 motd=\"hello world\" raw=yes quoted='\"True\"' # trailing comment

[db]
db1 opts=\"{'a': [1, 2]}\"

[prod:children]
web
db

[prod:vars]
ansible_user=deploy
tier=\"True\"
timeout=30
";

#[test]
fn ini_inventory_reads_hosts_groups_children_and_typed_vars() {
    let (_d, inv) = inventory("hosts.ini", INI);
    assert_eq!(inv.hosts(), ["lonely", "web1.example.com", "web2.example.com", "web3", "db1"]);
    assert_eq!(inv.select("ungrouped").unwrap(), ["lonely"]);
    assert_eq!(var(&inv, "lonely", "ansible_host"), json!("10.0.0.9"));
    assert_eq!(var(&inv, "web1.example.com", "http_port"), json!(8080));
    assert_eq!(var(&inv, "web1.example.com", "debug"), json!(true));
    assert_eq!(var(&inv, "web1.example.com", "ratio"), json!(0.5));
    assert_eq!(var(&inv, "web3", "ansible_port"), json!(2200));
    assert_eq!(var(&inv, "web3", "motd"), json!("hello world"));
    assert_eq!(var(&inv, "web3", "raw"), json!("yes"));
    assert_eq!(var(&inv, "web3", "quoted"), json!("True"));
    assert_eq!(var(&inv, "db1", "opts"), json!({"a": [1, 2]}));
    assert_eq!(var(&inv, "db1", "ansible_user"), json!("deploy"));
    assert_eq!(var(&inv, "db1", "tier"), json!("True"));
    assert_eq!(var(&inv, "db1", "timeout"), json!(30));
    assert_eq!(inv.select("prod").unwrap(), ["web1.example.com", "web2.example.com", "web3", "db1"]);
}

#[test]
fn ini_children_must_name_a_declared_group() {
    let err = load_err("hosts.ini", "[web]\nw1\n[prod:children]\nweb\nwbe\n");
    assert!(err.contains("hosts.ini:5:1: group `wbe` is not defined"), "{err}");
    assert!(err.contains("did you mean `web`?"), "{err}");
    // Declaring it later in the file (even empty) is enough.
    let (_d, inv) = inventory("hosts.ini", "[prod:children]\nweb\n[web]\nw1\n");
    assert_eq!(inv.select("prod").unwrap(), ["w1"]);
}

#[test]
fn ini_vars_of_an_undeclared_group_are_an_error() {
    let err = load_err("hosts.ini", "[web]\nw1\n[wbe:vars]\nx=1\n");
    assert!(err.contains("hosts.ini:3:1: group `wbe` is not defined"), "{err}");
}

#[test]
fn ini_host_vars_without_equals_sign_are_an_error() {
    let err = load_err("hosts.ini", "[web]\nw1 port 22\n");
    assert!(err.contains("hosts.ini:2:1: expected `name=value` after host `w1`, found `port`"), "{err}");
}

#[test]
fn files_without_extension_are_yaml_when_they_parse_as_a_mapping_else_ini() {
    let (_d, inv) = inventory("hosts", "[web]\nw1\n");
    assert_eq!(inv.select("web").unwrap(), ["w1"]);
    let (_d, inv) = inventory("hosts", "w1 x=1\nw2\n");
    assert_eq!(inv.hosts(), ["w1", "w2"]);
    let (_d, inv) = inventory("hosts", "web:\n  hosts:\n    w1:\n");
    assert_eq!(inv.select("web").unwrap(), ["w1"]);
}

#[test]
fn inventory_directory_reads_every_inventory_file_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let inv_dir = dir.path().join("inventory");
    write(&inv_dir, "01-web.yml", "web:\n  hosts:\n    w1:\n");
    write(&inv_dir, "02-db.ini", "[db]\nd1\n");
    write(&inv_dir, "sub/03-cache", "[cache]\nc1\n");
    write(&inv_dir, "README.md", "# not an inventory: [\n");
    write(&inv_dir, "hosts.yml~", "not: [valid\n");
    write(&inv_dir, ".hidden.yml", "not: [valid\n");
    write(&inv_dir, "site.retry", "w1\n");
    write(&inv_dir, "group_vars/web.yml", "role: web\n");
    let inv = Inventory::load(&[inv_dir]).unwrap();
    assert_eq!(inv.hosts(), ["w1", "d1", "c1"]);
    assert_eq!(var(&inv, "w1", "role"), json!("web"));
}

#[test]
fn missing_source_is_a_not_found_error_naming_the_path() {
    let err = Inventory::load(&[PathBuf::from("/nonexistent/stead/inv.yml")]).unwrap_err();
    assert!(matches!(err, InventoryError::NotFound { .. }));
    assert!(err.to_string().starts_with("/nonexistent/stead/inv.yml: inventory source not found"));
}

// ---- group_vars / host_vars ----

const SMALL: &str = "\
all:
  vars: {x: inline_all, y: inline_all}
  children:
    web:
      vars: {x: inline_web}
      hosts:
        w1: {z: inline_host}
";

#[test]
fn vars_files_beside_the_inventory_override_inline_vars() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "inv/hosts.yml", SMALL);
    write(dir.path(), "inv/group_vars/web.yml", "x: file_web\n");
    write(dir.path(), "inv/host_vars/w1", "z: file_host\n");
    let inv = Inventory::load(&[path]).unwrap();
    assert_eq!(var(&inv, "w1", "x"), json!("file_web"));
    assert_eq!(var(&inv, "w1", "y"), json!("inline_all"));
    assert_eq!(var(&inv, "w1", "z"), json!("file_host"));
}

#[test]
fn group_vars_all_file_overrides_inline_vars_of_every_group() {
    // Ansible's VARIABLE_PRECEDENCE: all_inventory, groups_inventory,
    // all_plugins_inventory, ... so group_vars/all beats [web:vars].
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hosts.yml", SMALL);
    write(dir.path(), "group_vars/all.yaml", "x: file_all\n");
    let inv = Inventory::load(&[path]).unwrap();
    assert_eq!(var(&inv, "w1", "x"), json!("file_all"));
}

#[test]
fn playbook_vars_dirs_override_inventory_ones_and_later_ones_win() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "inv/hosts.yml", SMALL);
    write(dir.path(), "inv/group_vars/web.yml", "x: inv_web\ny: inv_web\n");
    write(dir.path(), "inv/host_vars/w1.yml", "z: inv_host\n");
    write(dir.path(), "play/group_vars/web.yml", "x: play_web\n");
    write(dir.path(), "play/host_vars/w1.json", "{\"z\": \"play_host\"}\n");
    write(dir.path(), "play2/group_vars/web/10-x.yml", "x: play2_web\n");
    let mut inv = Inventory::load(&[path]).unwrap();
    assert_eq!(var(&inv, "w1", "x"), json!("inv_web"));
    inv.add_vars_dir(&dir.path().join("play")).unwrap();
    assert_eq!(var(&inv, "w1", "x"), json!("play_web"));
    assert_eq!(var(&inv, "w1", "y"), json!("inv_web"));
    assert_eq!(var(&inv, "w1", "z"), json!("play_host"));
    inv.add_vars_dir(&dir.path().join("play2")).unwrap();
    assert_eq!(var(&inv, "w1", "x"), json!("play2_web"));
}

#[test]
fn group_vars_directory_files_merge_in_name_order_and_first_name_form_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hosts.yml", SMALL);
    write(dir.path(), "group_vars/web/10-a.yml", "x: a\ny: a\n");
    write(dir.path(), "group_vars/web/20-b.yaml", "x: b\n");
    write(dir.path(), "group_vars/web/notes.txt", "x: ignored\n");
    write(dir.path(), "group_vars/web.yml", "x: shadowed_by_dir\n");
    let inv = Inventory::load(&[path]).unwrap();
    assert_eq!(var(&inv, "w1", "x"), json!("b"));
    assert_eq!(var(&inv, "w1", "y"), json!("a"));
}

#[test]
fn a_vars_file_that_is_not_a_mapping_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hosts.yml", SMALL);
    write(dir.path(), "group_vars/web.yml", "- x\n");
    let err = Inventory::load(&[path]).unwrap_err().to_string();
    assert!(err.contains("web.yml:1:1: a vars file must be a mapping"), "{err}");
}

#[test]
fn vars_files_for_unknown_names_are_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hosts.yml", SMALL);
    write(dir.path(), "group_vars/other.yml", "not: [valid\n");
    assert!(Inventory::load(&[path]).is_ok());
}

// ---- patterns ----

fn patterns_inventory() -> (tempfile::TempDir, Inventory) {
    inventory(
        "hosts.yml",
        "\
all:
  children:
    web:
      hosts:
        web1.example.com:
        web2.example.com:
        web3.example.org:
    db:
      hosts:
        db1:
        db2:
    prod:
      hosts:
        web1.example.com:
        db1:
  hosts:
    h1:
    h2:
    h3:
",
    )
}

#[test]
fn all_and_star_select_every_host_in_inventory_order() {
    let (_d, inv) = patterns_inventory();
    let every = inv.hosts();
    assert_eq!(every.len(), 8);
    assert_eq!(inv.select("all").unwrap(), every);
    assert_eq!(inv.select("*").unwrap(), every);
}

#[test]
fn names_select_a_group_or_a_host() {
    let (_d, inv) = patterns_inventory();
    assert_eq!(inv.select("db").unwrap(), ["db1", "db2"]);
    assert_eq!(inv.select("h2").unwrap(), ["h2"]);
    assert_eq!(inv.select("ungrouped").unwrap(), ["h1", "h2", "h3"]);
}

#[test]
fn unions_by_comma_or_colon_come_out_in_inventory_order_deduplicated() {
    let (_d, inv) = patterns_inventory();
    let expect = ["web1.example.com", "db1", "db2"];
    assert_eq!(inv.select("db,web1.example.com").unwrap(), expect);
    assert_eq!(inv.select("db:prod").unwrap(), expect);
    assert_eq!(inv.select("db, prod").unwrap(), expect);
}

#[test]
fn intersection_and_exclusion_apply_after_unions() {
    let (_d, inv) = patterns_inventory();
    assert_eq!(inv.select("web:&prod").unwrap(), ["web1.example.com"]);
    assert_eq!(inv.select("&prod:web").unwrap(), ["web1.example.com"]);
    assert_eq!(inv.select("web:!prod").unwrap(), ["web2.example.com", "web3.example.org"]);
    assert_eq!(inv.select("!web:!db").unwrap(), ["h1", "h2", "h3"]);
    assert_eq!(inv.select("all:!h3").unwrap().len(), 7);
}

#[test]
fn globs_match_host_and_group_names() {
    let (_d, inv) = patterns_inventory();
    assert_eq!(inv.select("*.example.com").unwrap(), ["web1.example.com", "web2.example.com"]);
    assert_eq!(inv.select("d*").unwrap(), ["db1", "db2"]);
    assert_eq!(inv.select("h?").unwrap(), ["h1", "h2", "h3"]);
    assert_eq!(inv.select("pro*:&db*").unwrap(), ["db1"]);
}

#[test]
fn regexes_match_from_the_start_of_names() {
    let (_d, inv) = patterns_inventory();
    assert_eq!(inv.select(r"~web\d\.example\.(com|org)").unwrap().len(), 3);
    assert_eq!(inv.select("~b1").unwrap(), Vec::<String>::new());
    assert!(matches!(inv.select("~web(").unwrap_err(), InventoryError::BadPattern { .. }));
}

#[test]
fn ranges_in_patterns_expand_to_existing_hosts() {
    let (_d, inv) = patterns_inventory();
    assert_eq!(inv.select("h[1:2]").unwrap(), ["h1", "h2"]);
    assert_eq!(
        inv.select("h[2:9]:web[1:2].example.com").unwrap(),
        ["web1.example.com", "web2.example.com", "h2", "h3"]
    );
}

#[test]
fn subscripts_of_a_group_pick_by_position() {
    let (_d, inv) = patterns_inventory();
    assert_eq!(inv.select("web[0]").unwrap(), ["web1.example.com"]);
    assert_eq!(inv.select("web[-1]").unwrap(), ["web3.example.org"]);
    assert_eq!(inv.select("web[1:]").unwrap(), ["web2.example.com", "web3.example.org"]);
    assert_eq!(inv.select("web[0:1]").unwrap(), ["web1.example.com", "web2.example.com"]);
    assert!(matches!(inv.select("web[7]").unwrap_err(), InventoryError::BadPattern { .. }));
}

#[test]
fn unknown_plain_name_is_an_error_with_did_you_mean_but_empty_globs_are_not() {
    let (_d, inv) = patterns_inventory();
    let err = inv.select("web:prdo").unwrap_err();
    assert!(matches!(err, InventoryError::UnknownPattern { ref name, .. } if name == "prdo"));
    assert_eq!(
        err.to_string(),
        "host pattern `web:prdo`: no host or group is named `prdo`\nhint: did you mean `prod`?"
    );
    assert!(inv.select("!nosuchgroup").is_err());
    assert_eq!(inv.select("nomatch*").unwrap(), Vec::<String>::new());
    assert_eq!(inv.select("zz[1:3]").unwrap(), Vec::<String>::new());
}

// ---- implicit localhost ----

#[test]
fn localhost_is_implicit_and_local_when_the_inventory_lacks_it() {
    let inv = Inventory::load(&[]).unwrap();
    assert!(inv.hosts().is_empty());
    assert_eq!(inv.select("all").unwrap(), Vec::<String>::new());
    assert_eq!(inv.select("localhost").unwrap(), ["localhost"]);
    assert_eq!(inv.select("127.0.0.1").unwrap(), ["127.0.0.1"]);
    assert!(inv.select("web").is_err());
    let vars = inv.host_vars("localhost").unwrap();
    assert_eq!(vars["ansible_connection"], json!("local"));
    assert_eq!(vars["inventory_hostname"], json!("localhost"));
    assert_eq!(vars["group_names"], json!([]));
    assert_eq!(inv.host_json("localhost").unwrap(), json!({"ansible_connection": "local"}));
    assert!(inv.host_vars("elsewhere").is_none());
}

#[test]
fn implicit_localhost_gets_all_vars_and_its_host_vars_file_but_not_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hosts.yml", "all:\n  vars: {x: 1}\n  hosts:\n    h1:\n");
    write(dir.path(), "host_vars/localhost.yml", "ansible_connection: ssh\n");
    let inv = Inventory::load(&[path]).unwrap();
    assert_eq!(inv.select("all").unwrap(), ["h1"]);
    assert_eq!(inv.select("all:localhost").unwrap(), ["h1", "localhost"]);
    assert_eq!(var(&inv, "localhost", "x"), json!(1));
    assert_eq!(var(&inv, "localhost", "ansible_connection"), json!("ssh"));
}

#[test]
fn a_localhost_defined_in_the_inventory_is_a_normal_host() {
    let (_d, inv) = inventory("hosts.yml", "all:\n  hosts:\n    localhost:\n      ansible_host: 10.1.1.1\n");
    assert_eq!(inv.select("all").unwrap(), ["localhost"]);
    assert_eq!(var(&inv, "localhost", "ansible_connection"), Value::Null);
}

// ---- magic vars and output ----

#[test]
fn magic_vars_describe_the_host_and_the_groups() {
    let (d, inv) = inventory("hosts.yml", NESTED);
    let vars = inv.host_vars("web1").unwrap();
    assert_eq!(vars["inventory_hostname"], json!("web1"));
    assert_eq!(vars["group_names"], json!(["prod", "web"]));
    assert_eq!(
        vars["groups"],
        json!({
            "all": ["lonely", "web1", "web2", "db1"],
            "ungrouped": ["lonely"],
            "prod": ["web1", "web2", "db1"],
            "web": ["web1", "web2"],
            "db": ["db1"],
        })
    );
    assert_eq!(vars["inventory_file"], json!(d.path().join("hosts.yml").display().to_string()));
    assert_eq!(var(&inv, "lonely", "group_names"), json!(["ungrouped"]));
    let (_d, inv) = inventory("hosts.yml", "all:\n  hosts:\n    web1.example.com:\n    10.0.0.1:\n");
    assert_eq!(var(&inv, "web1.example.com", "inventory_hostname_short"), json!("web1"));
    assert_eq!(var(&inv, "10.0.0.1", "inventory_hostname_short"), json!("10.0.0.1"));
}

#[test]
fn host_json_is_the_merged_vars_without_magic_vars_keys_sorted() {
    let (_d, inv) = inventory("hosts.yml", NESTED);
    let json = inv.host_json("web2").unwrap();
    assert_eq!(json, json!({"from_all": 1, "level": "host"}));
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["from_all", "level"]);
    assert!(inv.host_json("nope").is_none());
}

#[test]
fn list_json_has_the_shape_of_ansible_inventory_list() {
    let (_d, inv) = inventory("hosts.yml", NESTED);
    let expected = json!({
        "_meta": {"hostvars": {
            "db1": {"ansible_port": 2222, "from_all": 1, "level": "prod"},
            "lonely": {"from_all": 1, "level": "all"},
            "web1": {"from_all": 1, "level": "web"},
            "web2": {"from_all": 1, "level": "host"},
        }},
        // As ansible-inventory --list: children in the order the file gives
        // them, `ungrouped` first under `all`.
        "all": {"children": ["ungrouped", "prod"]},
        "db": {"hosts": ["db1"]},
        "prod": {"children": ["web", "db"]},
        "ungrouped": {"hosts": ["lonely"]},
        "web": {"hosts": ["web1", "web2"]},
    });
    let list = inv.list_json();
    assert_eq!(list, expected);
    let keys: Vec<&String> = list.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["_meta", "all", "db", "prod", "ungrouped", "web"]);
}

#[test]
fn list_json_of_an_empty_inventory_still_lists_ungrouped_under_all() {
    let inv = Inventory::load(&[]).unwrap();
    assert_eq!(inv.list_json(), json!({"_meta": {"hostvars": {}}, "all": {"children": ["ungrouped"]}}));
}

#[test]
fn graph_draws_the_group_tree_like_ansible_inventory() {
    let (_d, inv) = inventory("hosts.yml", NESTED);
    assert_eq!(
        inv.graph(),
        "\
@all:
  |--@prod:
  |  |--@db:
  |  |  |--db1
  |  |--@web:
  |  |  |--web1
  |  |  |--web2
  |--@ungrouped:
  |  |--lonely"
    );
    assert_eq!(Inventory::load(&[]).unwrap().graph(), "@all:\n  |--@ungrouped:");
}

#[test]
fn duplicate_yaml_keys_become_located_warnings() {
    let (_d, inv) = inventory("hosts.yml", "all:\n  hosts:\n    a:\n    a:\n");
    assert_eq!(inv.warnings().len(), 1);
    assert!(inv.warnings()[0].contains("hosts.yml:4:5"), "{:?}", inv.warnings());
}
