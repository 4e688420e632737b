// The amif_match page: calls the service's JSON endpoints and shows their answers.
// Plain JavaScript, no libraries; every text from the service goes into the page as text
// (textContent), never as HTML.
"use strict";

(function () {
  const STRINGS = JSON.parse(document.getElementById("strings").textContent);
  const LANGS = Object.keys(STRINGS);
  const $ = (id) => document.getElementById(id);
  const state = {
    lang: document.documentElement.lang,
    text: "",
    result: null,
    partners: null,
    filters: {},
    catalogue: null,
    sources: {},
  };

  function t(key) {
    return (STRINGS[state.lang] || STRINGS.en)[key] || STRINGS.en[key] || key;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "class") node.className = value;
      else if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function pct(value) {
    return `${Math.round(value * 100)} %`;
  }

  // ------------------------------------------------------------------ language

  function applyLanguage(lang, remember) {
    if (!LANGS.includes(lang)) return;
    state.lang = lang;
    document.documentElement.lang = lang;
    document.title = t("title");
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n);
    }
    $("lang").value = lang;
    if (remember) {
      try {
        localStorage.setItem("amif-match-lang", lang);
      } catch (e) { /* storage may be off */ }
      const url = new URL(window.location.href);
      url.searchParams.set("lang", lang);
      history.replaceState(null, "", url);
    }
    if (state.result) renderResult();
    if (state.partners) renderPartners();
  }

  function initialLanguage() {
    const url = new URL(window.location.href);
    if (url.searchParams.has("lang")) return;
    let stored = null;
    try {
      stored = localStorage.getItem("amif-match-lang");
    } catch (e) { /* storage may be off */ }
    if (stored && stored !== state.lang) applyLanguage(stored, false);
  }

  // ------------------------------------------------------------------ service calls

  async function call(method, path, body, headers) {
    const init = { method, headers: Object.assign({ Accept: "application/json" }, headers || {}) };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = null;
    try {
      data = await response.json();
    } catch (e) { /* not JSON */ }
    if (!response.ok) {
      const error = new Error((data && data.detail) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function showError(message) {
    const box = $("error");
    box.textContent = message ? `${t("error")}: ${message}` : "";
    box.hidden = !message;
  }

  async function loadContext() {
    try {
      state.catalogue = await call("GET", "/catalogue");
      const context = await call("GET", "/page/context");
      state.sources = context.sources || {};
      const list = $("regions");
      for (const region of context.regions || []) list.append(el("option", { value: region }));
    } catch (e) { /* names then come from the results themselves */ }
  }

  function nameOf(kind, code, fallback) {
    const items = state.catalogue && state.catalogue[kind];
    const item = items && items.find((i) => i.code === code);
    if (!item) return fallback;
    const key = kind === "target_groups" ? "term_" : "name_";
    return item[key + state.lang] || fallback;
  }

  // ------------------------------------------------------------------ classification

  async function classify(event) {
    event.preventDefault();
    showError("");
    const file = $("file").files[0];
    const status = $("status");
    const button = $("classify");
    button.disabled = true;
    try {
      if (file) {
        status.textContent = t("reading");
        const form = new FormData();
        form.append("file", file, file.name);
        const doc = await call("POST", "/page/text", form);
        $("text").value = doc.text;
        $("file").value = "";
      }
      const text = $("text").value.trim();
      if (!text) {
        showError(t("empty_text"));
        status.textContent = "";
        return;
      }
      status.textContent = t("working");
      state.result = await call("POST", "/classify", { text, k: 10 });
      state.text = text;
      state.partners = null;
      renderResult();
      $("results").hidden = false;
      $("results-heading").focus();
      status.textContent = t("done");
    } catch (e) {
      status.textContent = "";
      showError(e.message);
      return;
    } finally {
      button.disabled = false;
    }
    await suggestPartners();
  }

  function bar(value) {
    const fill = el("span", { class: "fill" });
    fill.style.width = `${Math.max(0, Math.min(1, value)) * 100}%`;
    return el("span", { class: "bar", "aria-hidden": "true" }, fill);
  }

  function renderResult() {
    const r = state.result;
    const scope = r.in_scope ? t("in_scope") : t("out_of_scope");
    const resembles = r.resembles ? ` (${t("resembles")} ${r.resembles.fund})` : "";
    $("summary").replaceChildren(
      el("strong", {}, `${t("best_objective")}: ${r.objective} – ${nameOf("objectives", r.objective, "")}`),
      el("br"),
      `${scope}${resembles} · ${t("text_language")}: ${r.language}`
    );
    $("objectives").replaceChildren(
      ...r.objectives.map((o) =>
        el(
          "li",
          { class: o.selected ? "selected" : "", "data-code": o.code },
          el("span", { class: `code so-${o.code}` }, o.code),
          el("span", { class: "name" }, nameOf("objectives", o.code, o.name)),
          bar(o.probability),
          el("span", { class: "value" }, `${t("probability")} ${pct(o.probability)}`),
          o.selected ? el("span", { class: "tag" }, t("selected")) : null
        )
      )
    );
    $("target-groups").replaceChildren(
      ...r.target_groups.map((g) =>
        el(
          "li",
          { class: g.selected ? "selected" : "", "data-code": g.code },
          el("span", { class: "name" }, nameOf("target_groups", g.code, g.name)),
          bar(g.probability),
          el("span", { class: "value" }, pct(g.probability)),
          g.selected ? el("span", { class: "tag" }, t("selected")) : null
        )
      )
    );
    renderHighlighted(state.text, r.evidence);
    $("activities").replaceChildren(
      ...r.activities.map((a) =>
        el(
          "li",
          { "data-code": a.code },
          el("span", { class: "code" }, a.code),
          ` ${nameOf("activities", a.code, a.name)} `,
          el("span", { class: "meta" }, `${t("layer_" + a.layer)} · ${a.objective} · ${t("score")} ${a.score.toFixed(2)}`)
        )
      )
    );
    $("similar").replaceChildren(...r.similar_projects.map(projectItem));
    fillFeedbackForm();
  }

  function projectItem(p) {
    const url = state.sources[p.id];
    return el(
      "li",
      {},
      el("span", { class: "name" }, p.name),
      " ",
      el("span", { class: "meta" }, `${p.id} · ${p.country} · ${t("score")} ${p.score.toFixed(2)}`),
      url ? " " : null,
      url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, t("source")) : null
    );
  }

  // The text with the evidence sentences marked; whitespace may differ between the two.
  function renderHighlighted(text, evidence) {
    let norm = "";
    const map = [];
    let space = true;
    for (let i = 0; i < text.length; i++) {
      if (/\s/.test(text[i])) {
        if (!space) {
          norm += " ";
          map.push(i);
        }
        space = true;
      } else {
        norm += text[i];
        map.push(i);
        space = false;
      }
    }
    const ranges = [];
    const missing = [];
    for (const ev of evidence) {
      const needle = ev.text.replace(/\s+/g, " ").trim();
      const at = needle ? norm.indexOf(needle) : -1;
      if (at < 0) missing.push(ev);
      else ranges.push({ start: map[at], end: map[at + needle.length - 1] + 1, ev });
    }
    ranges.sort((a, b) => a.start - b.start);
    const nodes = [];
    let pos = 0;
    for (const range of ranges) {
      if (range.start < pos) continue;
      nodes.push(text.slice(pos, range.start));
      const label = `${range.ev.supports} ${range.ev.score.toFixed(2)}`;
      nodes.push(el("mark", { class: `so-${range.ev.supports}`, title: label }, text.slice(range.start, range.end)));
      pos = range.end;
    }
    nodes.push(text.slice(pos));
    for (const ev of missing) {
      nodes.push(el("mark", { class: `quote so-${ev.supports}`, title: ev.supports }, ev.text));
    }
    $("highlighted").replaceChildren(...nodes);
  }

  // ------------------------------------------------------------------ partners

  function partnerFilters() {
    const form = $("partner-form");
    const filters = {};
    const types = [...form.querySelectorAll("input[name=org_types]:checked")].map((i) => i.value);
    if (types.length) filters.org_types = types;
    const region = $("region").value.trim();
    if (region) filters.region = [region];
    const countries = $("countries").value.toUpperCase().split(/[\s,;]+/).filter(Boolean);
    if (countries.length) filters.countries = countries;
    const applicant = $("applicant").value.trim();
    if (applicant) filters.applicant = applicant;
    const transnational = parseInt($("transnational").value, 10);
    if (transnational >= 2) filters.transnational = transnational;
    return filters;
  }

  async function suggestPartners(event) {
    if (event) event.preventDefault();
    if (!state.text) return;
    const status = $("partners-status");
    status.textContent = t("working");
    try {
      state.filters = partnerFilters();
      const answer = await call("POST", "/partners", Object.assign({ text: state.text, k: 10 }, state.filters));
      state.partners = answer.partners;
      renderPartners();
      status.textContent = state.partners.length ? "" : t("no_partners");
    } catch (e) {
      state.partners = null;
      $("partners").replaceChildren();
      status.textContent = `${t("error")}: ${e.message}`;
    }
  }

  function renderPartners() {
    $("partners").replaceChildren(
      ...state.partners.map((p) => {
        const where = [p.city, p.region, p.country].filter(Boolean).join(", ");
        const type = p.type ? t("org_" + p.type) : "";
        const projects = el(
          "ul",
          { class: "evidence" },
          ...p.evidence.map((e) => {
            const url = state.sources[e.project_id];
            return el(
              "li",
              {},
              `${e.project_name} (${e.role}) `,
              url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, t("source")) : null
            );
          })
        );
        return el(
          "li",
          { "data-id": p.id },
          el("h3", {}, `${p.rank}. ${p.name}`),
          el("p", { class: "meta" }, `${type} · ${where} · ${t("score")} ${p.score.toFixed(2)} · ${p.n_projects} ${t("past_projects")}`),
          el("p", { class: "explanation" }, p.explanation),
          p.evidence.length ? projects : null,
          p.worked_with.length ? el("p", { class: "meta" }, `${t("worked_with")}: ${p.worked_with.join(", ")}`) : null
        );
      })
    );
  }

  // ------------------------------------------------------------------ downloads

  function download(name, type, content) {
    const url = URL.createObjectURL(new Blob([content], { type }));
    const link = el("a", { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function resultJSON() {
    return JSON.stringify(
      { text: state.text, classification: state.result, partner_filters: state.filters, partners: state.partners || [] },
      null,
      2
    );
  }

  function csvCell(value) {
    const text = value === null || value === undefined ? "" : String(value);
    return /[",\n\r;]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  function resultCSV() {
    const r = state.result;
    const rows = [["section", "rank", "code", "name", "value", "selected", "detail"]];
    r.objectives.forEach((o, i) => rows.push(["objective", i + 1, o.code, o.name, o.probability, o.selected, ""]));
    r.target_groups.forEach((g, i) => rows.push(["target_group", i + 1, g.code, g.name, g.probability, g.selected, ""]));
    r.activities.forEach((a, i) => rows.push(["activity", i + 1, a.code, a.name, a.score, "", `${a.layer} ${a.objective}`]));
    r.evidence.forEach((e, i) => rows.push(["evidence", i + 1, e.supports, e.text, e.score, "", ""]));
    r.similar_projects.forEach((p, i) => rows.push(["similar_project", i + 1, p.id, p.name, p.score, "", state.sources[p.id] || p.country]));
    (state.partners || []).forEach((p) => rows.push(["partner", p.rank, p.id, p.name, p.score, "", p.explanation]));
    return "\ufeff" + rows.map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
  }

  // ------------------------------------------------------------------ corrections

  function fillFeedbackForm() {
    const r = state.result;
    $("fb-objective").value = r.objective;
    const box = $("fb-target-groups");
    const groups = (state.catalogue && state.catalogue.target_groups) || r.target_groups;
    const chosen = new Set(r.target_groups.filter((g) => g.selected).map((g) => g.code));
    box.replaceChildren(
      ...groups.map((g) =>
        el(
          "label",
          { class: "check" },
          el("input", { type: "checkbox", name: "fb_target_groups", value: g.code, checked: chosen.has(g.code) ? "" : null }),
          ` ${nameOf("target_groups", g.code, g.name || g.code)}`
        )
      )
    );
    $("fb-activities").value = r.activities.slice(0, 3).map((a) => a.code).join(" ");
    $("feedback-status").textContent = "";
  }

  function feedbackHeaders() {
    const token = $("fb-token").value.trim();
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  async function sendFeedback(event) {
    event.preventDefault();
    const status = $("feedback-status");
    const body = {
      text: state.text,
      objective: $("fb-objective").value,
      target_groups: [...document.querySelectorAll("input[name=fb_target_groups]:checked")].map((i) => i.value),
      activities: $("fb-activities").value.split(/[\s,;]+/).filter(Boolean),
      predicted: state.result.objective,
      note: $("fb-note").value.trim() || null,
      reviewer: $("fb-reviewer").value.trim() || null,
    };
    try {
      await call("POST", "/feedback", body, feedbackHeaders());
      status.textContent = t("feedback_recorded");
      await listFeedback();
    } catch (e) {
      status.textContent = e.status === 404 || e.status === 405 ? t("feedback_unavailable") : `${t("error")}: ${e.message}`;
    }
  }

  async function listFeedback() {
    const list = $("feedback-list");
    let data;
    try {
      data = await call("GET", "/feedback", undefined, feedbackHeaders());
    } catch (e) {
      const message = e.status === 404 || e.status === 405 ? t("feedback_unavailable") : `${t("error")}: ${e.message}`;
      list.replaceChildren(el("li", {}, message));
      return;
    }
    const items = Array.isArray(data) ? data : (data && (data.feedback || data.items || data.corrections)) || [];
    if (!items.length) {
      list.replaceChildren(el("li", {}, t("feedback_none")));
      return;
    }
    list.replaceChildren(
      ...items.slice(-50).reverse().map((f) => {
        const when = f.created_at || f.time || f.timestamp || "";
        const who = f.reviewer ? ` · ${f.reviewer}` : "";
        const groups = (f.target_groups || []).join(", ");
        const snippet = (f.text || "").slice(0, 120);
        return el(
          "li",
          { class: "feedback-item" },
          el("strong", {}, f.objective || ""),
          ` ${groups} `,
          el("span", { class: "meta" }, `${when}${who}`),
          f.note ? el("p", {}, f.note) : null,
          el("p", { class: "meta" }, snippet)
        );
      })
    );
  }

  // ------------------------------------------------------------------ wiring

  function dropzone() {
    const zone = $("dropzone");
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      if (!event.dataTransfer.files.length) return;
      $("file").files = event.dataTransfer.files;
      $("classify-form").requestSubmit();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    initialLanguage();
    $("lang").addEventListener("change", (event) => applyLanguage(event.target.value, true));
    $("classify-form").addEventListener("submit", classify);
    $("clear").addEventListener("click", () => {
      $("text").value = "";
      $("file").value = "";
      showError("");
      $("status").textContent = "";
      $("text").focus();
    });
    $("partner-form").addEventListener("submit", suggestPartners);
    $("download-json").addEventListener("click", () =>
      download("amif-match-result.json", "application/json", resultJSON())
    );
    $("download-csv").addEventListener("click", () =>
      download("amif-match-result.csv", "text/csv;charset=utf-8", resultCSV())
    );
    $("feedback-form").addEventListener("submit", sendFeedback);
    $("refresh-feedback").addEventListener("click", listFeedback);
    dropzone();
    loadContext();
  });
})();
