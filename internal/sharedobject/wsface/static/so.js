// Shoal shared objects for browsers: a dependency-free client shaped like
// Flash's SharedObject. Served by every shoal-node at /so.js.
//
//   const nc = new ShoalSO.Connection("ws://host:5080/so/SOSample");
//   const so = ShoalSO.SharedObject.getRemote("BallControl", nc, false);
//   so.onSync = (changeList) => { draw(so.data.ballCoordinates); };
//   so.connect();
//   so.setProperty("ballCoordinates", {x: 10, y: 20});
//   so.send("newMessage", "hi");            // calls so.client.newMessage("hi") everywhere
//
// The protocol is documented in docs/shared-objects-websocket.md.
(function (global) {
  "use strict";

  function encode(v) {
    if (v instanceof Date) return { $date: v.getTime() };
    if (v instanceof Uint8Array) {
      let s = "";
      for (let i = 0; i < v.length; i++) s += String.fromCharCode(v[i]);
      return { $bytes: btoa(s) };
    }
    if (typeof v === "number" && !isFinite(v)) {
      return { $number: isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity" };
    }
    if (Array.isArray(v)) return v.map(encode);
    if (v && typeof v === "object") {
      const o = {};
      for (const k of Object.keys(v)) o[k] = encode(v[k]);
      return o;
    }
    return v === undefined ? null : v;
  }

  function decode(v) {
    if (Array.isArray(v)) return v.map(decode);
    if (v && typeof v === "object") {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === "$date") return new Date(v.$date);
      if (keys.length === 1 && keys[0] === "$number") return Number(v.$number === "Infinity" ? Infinity : v.$number === "-Infinity" ? -Infinity : NaN);
      if (keys.length === 1 && keys[0] === "$bytes") {
        const s = atob(v.$bytes), b = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
        return b;
      }
      const o = {};
      for (const k of keys) o[k] = decode(v[k]);
      return o;
    }
    return v;
  }

  // Connection is one WebSocket to /so/{app}[/{room}...] on a node. It
  // reconnects with backoff and re-uses its objects after a reconnect (the
  // server then sends their whole state again).
  class Connection {
    constructor(url) {
      this.url = url;
      this.connected = false;
      this.objects = new Map();
      this.queue = [];
      this.backoff = 250;
      this.closed = false;
      this.onStatus = null; // function({code, level, description})
      this._open();
    }

    _status(code, level, description) {
      if (this.onStatus) this.onStatus({ code, level, description });
    }

    _open() {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => {
        this.connected = true;
        this.backoff = 250;
        this._status("NetConnection.Connect.Success", "status");
        for (const so of this.objects.values()) so._sendUse();
        const q = this.queue;
        this.queue = [];
        for (const m of q) this._send(m);
      };
      ws.onmessage = (e) => this._receive(JSON.parse(e.data));
      ws.onclose = (e) => {
        const was = this.connected;
        this.connected = false;
        for (const so of this.objects.values()) so.connected = false;
        if (was) this._status("NetConnection.Connect.Closed", "status", e.reason);
        if (this.closed) return;
        setTimeout(() => this._open(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 5000);
      };
    }

    _send(m) {
      if (this.connected && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify(m));
      } else if (m.op !== "use") {
        this.queue.push(m);
      }
    }

    _receive(m) {
      if (m.ev === "batch") {
        const so = this.objects.get(m.name);
        if (so) so._batch(m);
      } else if (m.ev === "error") {
        this._status("NetConnection.Call.Failed", "error", m.error);
      }
    }

    close() {
      this.closed = true;
      if (this.ws) this.ws.close();
    }
  }

  // SharedObject is a remote shared object, as Flash's SharedObject.getRemote
  // returns.
  class SharedObject {
    static getRemote(name, connection, persistent) {
      return new SharedObject(name, connection, !!persistent);
    }

    constructor(name, connection, persistent) {
      this.name = name;
      this.connection = connection;
      this.persistent = persistent;
      this.data = {};
      this.version = 0;
      this.connected = false;
      this.client = this; // SendMessage calls client[handler](...args)
      this.onSync = null; // function(changeList): [{code, name, oldValue}]
      this.onStatus = null; // function({code, level, description})
    }

    connect(connection) {
      if (connection) this.connection = connection;
      this.connection.objects.set(this.name, this);
      this._sendUse();
      return this;
    }

    _sendUse() {
      this.connection._send({ op: "use", name: this.name, persistent: this.persistent });
    }

    close() {
      this.connection._send({ op: "release", name: this.name });
      this.connection.objects.delete(this.name);
      this.connected = false;
    }

    setProperty(key, value) {
      if (value === null || value === undefined) {
        delete this.data[key];
        this.connection._send({ op: "remove", name: this.name, key });
        return;
      }
      this.data[key] = value;
      this.connection._send({ op: "set", name: this.name, key, value: encode(value) });
    }

    // setProperties sets several keys as one change: others see them together.
    setProperties(values) {
      const set = {};
      const remove = [];
      for (const k of Object.keys(values)) {
        const v = values[k];
        if (v === null || v === undefined) {
          delete this.data[k];
          remove.push(k);
        } else {
          this.data[k] = v;
          set[k] = encode(v);
        }
      }
      this.connection._send({ op: "update", name: this.name, set, remove });
    }

    send(handler, ...args) {
      this.connection._send({ op: "send", name: this.name, handler, args: args.map(encode) });
    }

    _batch(m) {
      if (m.version) this.version = m.version;
      const changes = [];
      for (const e of m.events) {
        switch (e.type) {
          case "use_success":
            this.connected = true;
            break;
          case "clear":
            this.data = {};
            changes.push({ code: "clear" });
            break;
          case "change": {
            const old = this.data[e.key];
            this.data[e.key] = decode(e.value);
            changes.push({ code: "change", name: e.key, oldValue: old });
            break;
          }
          case "success":
            changes.push({ code: "success", name: e.key });
            break;
          case "remove": {
            const old = this.data[e.key];
            delete this.data[e.key];
            changes.push({ code: "delete", name: e.key, oldValue: old });
            break;
          }
          case "message": {
            const fn = this.client && this.client[e.handler];
            if (typeof fn === "function") fn.apply(this.client, decode(e.args));
            break;
          }
          case "status":
            if (e.code === "SharedObject.NoWriteAccess") changes.push({ code: "reject" });
            if (this.onStatus) this.onStatus({ code: e.code, level: e.level, description: e.description });
            break;
        }
      }
      if (changes.length && this.onSync) this.onSync(changes);
    }
  }

  global.ShoalSO = { Connection, SharedObject };
})(typeof window !== "undefined" ? window : globalThis);
