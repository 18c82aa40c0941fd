-- Initial control-plane schema. Valid on SQLite and PostgreSQL; the
-- migration runner rewrites "INTEGER PRIMARY KEY AUTOINCREMENT" to an
-- identity column on PostgreSQL. Times are Unix milliseconds.

CREATE TABLE node_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    regions TEXT NOT NULL,
    launch_config TEXT NOT NULL,
    scale_policy TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE nodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    identifier TEXT NOT NULL UNIQUE,
    group_name TEXT NOT NULL REFERENCES node_groups (name) ON DELETE CASCADE,
    role TEXT NOT NULL,
    region TEXT NOT NULL,
    zone TEXT NOT NULL,
    address TEXT NOT NULL,
    rtmp_port INTEGER NOT NULL,
    http_port INTEGER NOT NULL,
    state TEXT NOT NULL,
    draining BOOLEAN NOT NULL DEFAULT FALSE,
    launch_config TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    provider_id TEXT NOT NULL,
    parents TEXT NOT NULL,
    version TEXT NOT NULL,
    last_report BIGINT NOT NULL DEFAULT 0,
    last_ping BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    state_changed_at BIGINT NOT NULL
);

CREATE INDEX nodes_group_role ON nodes (group_name, role);

CREATE INDEX nodes_address ON nodes (address, rtmp_port);

-- History of node state changes; kept after the node row is removed.
CREATE TABLE node_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX node_events_node ON node_events (node, id);

-- The latest load report of each node.
CREATE TABLE node_reports (
    node_id BIGINT PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    gen BIGINT NOT NULL,
    connections INTEGER NOT NULL,
    publishers INTEGER NOT NULL,
    subscribers INTEGER NOT NULL,
    bytes_in_per_s BIGINT NOT NULL,
    bytes_out_per_s BIGINT NOT NULL,
    cpu DOUBLE PRECISION NOT NULL,
    memory_bytes BIGINT NOT NULL,
    stream_count INTEGER NOT NULL,
    at BIGINT NOT NULL
);

-- Streams of the latest report of each node; gen is the report that last
-- listed the stream, so older rows are the streams that ended.
CREATE TABLE streams (
    node_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    subscribers INTEGER NOT NULL,
    gen BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (node_id, scope, name)
);

CREATE INDEX streams_scope_name ON streams (scope, name);

CREATE TABLE scale_policies (
    name TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE launch_configs (
    name TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Scale-out alarm per role: the load percentage of the role's connection
-- capacity above which the group scales out.
CREATE TABLE alarms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    role TEXT NOT NULL UNIQUE,
    threshold INTEGER NOT NULL
);

INSERT INTO alarms (role, threshold) VALUES ('origin', 60);
INSERT INTO alarms (role, threshold) VALUES ('edge', 60);
INSERT INTO alarms (role, threshold) VALUES ('relay', 60);
INSERT INTO alarms (role, threshold) VALUES ('transcoder', 60);
INSERT INTO alarms (role, threshold) VALUES ('allinone', 60);

CREATE TABLE scaling_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_name TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    node TEXT NOT NULL,
    reason TEXT NOT NULL,
    details TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX scaling_events_group ON scaling_events (group_name, id);
