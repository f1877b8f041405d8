/// The dashboard's stylesheet and script, served from the binary itself: the page loads nothing
/// from elsewhere, so it works on a farm without internet.
enum DashboardAssets {
    static let css = #"""
    :root { --ok: #1b7f3b; --warn: #b26a00; --bad: #b3261e; --off: #6b6b6b; --bg: #f5f6f8; --card: #fff; --text: #1d1d1f; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); }
    header { padding: 12px 16px; background: #20232a; color: #fff; }
    header h1 { margin: 0; font-size: 20px; }
    header p { margin: 4px 0 0; font-size: 13px; opacity: .9; }
    main { padding: 12px; }
    .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
    .card { background: var(--card); border-radius: 8px; padding: 12px; box-shadow: 0 1px 3px rgba(0,0,0,.12); border-left: 6px solid var(--off); }
    .card.Ready { border-left-color: var(--ok); }
    .card.Connecting, .card.Degraded { border-left-color: var(--warn); }
    .card.Error, .card.Missing { border-left-color: var(--bad); }
    .card h2 { margin: 0 0 4px; font-size: 17px; display: flex; justify-content: space-between; align-items: center; }
    .phase { font-size: 13px; font-weight: 600; padding: 2px 8px; border-radius: 10px; background: #eee; }
    .Ready .phase { background: #dff3e4; color: var(--ok); }
    .Error .phase, .Missing .phase { background: #fbe3e1; color: var(--bad); }
    .Connecting .phase, .Degraded .phase { background: #fdf0d9; color: var(--warn); }
    .reason { color: var(--bad); font-size: 13px; min-height: 1em; overflow-wrap: anywhere; }
    dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 8px 0; font-size: 14px; }
    dt { color: #555; } dd { margin: 0; overflow-wrap: anywhere; }
    .bars { display: inline-flex; gap: 2px; align-items: flex-end; height: 14px; vertical-align: middle; margin-right: 6px; }
    .bars i { display: block; width: 4px; background: #ccc; }
    .bars i:nth-child(1) { height: 25%; } .bars i:nth-child(2) { height: 50%; } .bars i:nth-child(3) { height: 75%; } .bars i:nth-child(4) { height: 100%; }
    .bars i.on { background: var(--ok); }
    .actions { display: flex; gap: 8px; }
    button { font: inherit; padding: 8px 14px; border-radius: 6px; border: 1px solid #888; background: #fff; cursor: pointer; min-height: 40px; }
    button:disabled { opacity: .5; }
    table { border-collapse: collapse; width: 100%; background: var(--card); font-size: 14px; }
    th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #ddd; }
    .login { max-width: 360px; margin: 40px auto; display: flex; flex-direction: column; gap: 10px; }
    .login form { display: flex; flex-direction: column; gap: 10px; }
    .login input { font: inherit; padding: 8px; }
    .error { color: var(--bad); }
    @media (max-width: 600px) { table { font-size: 12px; } th, td { padding: 4px; } }
    """#

    static let javascript = #"""
    "use strict";
    // Turns the server's table into one card per modem and keeps it live by polling /v1/status.
    (function () {
      const cards = document.getElementById("cards");
      const table = document.getElementById("modems-table");
      const summary = document.getElementById("summary");
      const notice = document.getElementById("notice");
      if (!cards || !table) return;
      table.hidden = true;
      cards.hidden = false;

      function el(tag, attrs, children) {
        const node = document.createElement(tag);
        for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
        for (const child of children || []) node.append(child);
        return node;
      }
      function duration(seconds) {
        seconds = Math.max(0, Math.floor(seconds));
        if (seconds >= 86400) return Math.floor(seconds / 86400) + "d " + Math.floor(seconds % 86400 / 3600) + "h";
        if (seconds >= 3600) return Math.floor(seconds / 3600) + "h " + Math.floor(seconds % 3600 / 60) + "m";
        if (seconds >= 60) return Math.floor(seconds / 60) + "m " + (seconds % 60) + "s";
        return seconds + "s";
      }
      function amount(bytes) {
        const units = ["B", "kB", "MB", "GB", "TB"];
        let value = bytes, unit = 0;
        while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit++; }
        return unit === 0 ? bytes + " B" : value.toFixed(1) + " " + units[unit];
      }
      function users(list) {
        if (!list || !list.length) return "-";
        return list.map(function (user) {
          if (!user.quota || !user.quotaBytes) return user.name + " " + amount(user.receive + user.transmit);
          if (user.overQuota) return user.name + " over quota (" + user.quota + ")";
          return user.name + " " + Math.floor((user.quotaUsedBytes || 0) * 100 / user.quotaBytes) + " % of " + user.quota;
        }).join(", ");
      }
      function ago(iso) { return iso ? duration((Date.now() - Date.parse(iso)) / 1000) + " ago" : "never"; }
      function bars(rsrp) {
        const level = rsrp == null ? 0 : rsrp >= -80 ? 4 : rsrp >= -90 ? 3 : rsrp >= -100 ? 2 : rsrp >= -110 ? 1 : 0;
        const node = el("span", { class: "bars", "aria-label": level + " of 4 bars" });
        for (let i = 1; i <= 4; i++) node.append(el("i", i <= level ? { class: "on" } : {}));
        return node;
      }
      function reason(modem) {
        if (modem.phase === "Ready") return "";
        return [modem.reason, modem.message].filter(Boolean).join(": ");
      }
      async function request(name, kind, button) {
        button.disabled = true;
        try {
          const response = await fetch("/v1/modems/" + encodeURIComponent(name) + "/" + kind, { method: "POST", credentials: "same-origin" });
          const body = await response.json();
          notice.textContent = response.ok ? body.message : (body.error + ": " + body.message);
        } catch (error) {
          notice.textContent = "request failed: " + error;
        } finally {
          button.disabled = false;
          refresh();
        }
      }
      // A card per modem, made once and updated in place, so its buttons stay where they are.
      const made = new Map();
      function card(name) {
        if (made.has(name)) return made.get(name);
        const rotate = el("button", { type: "button", class: "rotate" }, ["Rotate"]);
        const reset = el("button", { type: "button", class: "reset" }, ["Reset"]);
        rotate.addEventListener("click", function () { request(name, "rotate", rotate); });
        reset.addEventListener("click", function () {
          if (window.confirm("Reset " + name + "? Its proxy stops until it is back.")) request(name, "reset", reset);
        });
        const node = el("article", { "data-modem": name }, [
          el("h2", {}, [name, el("span", { class: "phase" })]),
          el("div", { class: "reason" }),
          el("dl"),
          el("div", { class: "actions" }, [rotate, reset]),
        ]);
        made.set(name, node);
        return node;
      }
      // The card's fields, made once per card: updates change their text, never the elements.
      const fields = ["Public IP", "Signal", "Operator", "Ready for", "Last rotation", "Rotations today", "Traffic", "Users", "Ports"];
      function update(modem) {
        const node = card(modem.name);
        const list = node.querySelector("dl");
        if (!list.children.length) {
          for (const term of fields) list.append(el("dt", {}, [term]), el("dd", { "data-field": term }));
          list.querySelector('[data-field="Public IP"]').append(el("span", { class: "ip" }));
        }
        const signal = modem.signal || {};
        const values = {
          "Operator": [modem.operatorName, modem.radioTechnology].filter(Boolean).join(" ") || "-",
          "Ready for": modem.readySince ? duration((Date.now() - Date.parse(modem.readySince)) / 1000) : "-",
          "Last rotation": ago(modem.rotation.last) + (modem.rotation.lastKeptSameAddress ? " (same IP)" : ""),
          "Rotations today": String(modem.rotationsToday),
          "Traffic": modem.traffic ? amount(modem.traffic.receive) + " down, " + amount(modem.traffic.transmit) + " up" : "-",
          "Users": users(modem.users),
          "Ports": (modem.httpPort || "-") + " / " + (modem.socksPort || "-"),
        };
        for (const [term, text] of Object.entries(values)) list.querySelector('[data-field="' + term + '"]').textContent = text;
        list.querySelector(".ip").textContent = modem.publicIP || modem.ip || "-";
        list.querySelector('[data-field="Signal"]').replaceChildren(bars(signal.rsrp), signal.rsrp != null ? signal.rsrp + " dBm" : "-");
        node.className = "card " + modem.phase;
        node.querySelector(".phase").textContent = modem.phase;
        node.querySelector(".reason").textContent = reason(modem);
        return node;
      }
      function summaryText(report) {
        const farm = report.farm;
        const phases = ["Ready", "Connecting", "Degraded", "Missing", "Disabled", "Error"]
          .filter(function (p) { return farm.phases[p] > 0; }).map(function (p) { return farm.phases[p] + " " + p; });
        return farm.modems + (farm.modems === 1 ? " modem" : " modems") + (phases.length ? ": " + phases.join(", ") : "")
          + " · " + (report.daemon.running ? "daemon running" : "no daemon running")
          + " · last pass " + ago(farm.lastPass) + (farm.specErrors && farm.specErrors.length ? " · farm.yaml is invalid" : "");
      }
      async function refresh() {
        try {
          const response = await fetch("/v1/status", { credentials: "same-origin", cache: "no-store" });
          if (response.status === 401) { window.location.reload(); return; }
          const report = await response.json();
          if (!response.ok) { summary.textContent = report.error + ": " + report.message; return; }
          summary.textContent = summaryText(report);
          const nodes = report.modems.map(update);
          if (nodes.some(function (node, index) { return cards.children[index] !== node; }) || cards.children.length !== nodes.length) {
            cards.replaceChildren.apply(cards, nodes);
          }
        } catch (error) {
          summary.textContent = "cannot reach the server: " + error;
        }
      }
      refresh();
      window.setInterval(refresh, 2000);
    })();
    """#
}
