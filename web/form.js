// The request form: file a request, confirm it with the emailed code, follow its status.
// Nothing is stored in the browser: the status token lives in this page's memory only.
"use strict";

(function () {
  const API = (document.documentElement.dataset.apiUrl || "").replace(/\/$/, "");
  const TERMINAL = new Set(["completed", "partially_completed", "failed", "rejected_unverified", "cancelled", "refused"]);
  // Cancel is offered while nothing may have been done yet; the API answers 409 if a store was acted on.
  const CANCELLABLE = new Set(["pending_verification", "verified", "in_progress"]);
  const STATUS_TEXT = {
    pending_verification: "Waiting for the code from your email",
    verified: "Confirmed: we are working on it",
    in_progress: "In progress",
    completed: "Completed",
    partially_completed: "Partly completed: some of it could not be done yet",
    failed: "We could not complete it; our privacy team will contact you",
    rejected_unverified: "Not carried out: the email address was not confirmed in time",
    cancelled: "Cancelled at your request: nothing was done",
    refused: "Not carried out: we have emailed you our reasons",
  };
  const TYPE_TEXT = {
    access: "A copy of your data", erasure: "Erase your data", rectification: "Correct your data",
    restriction: "Stop using your data for now", objection: "Object to how your data is used",
    opt_out: "Stop marketing, do not sell or share",
    disclosure_notice: "What was shared for direct marketing",
  };
  const FIELDS = ["type", "email", "jurisdiction", "corrections", "topics", "agent-name", "agent-email", "note", "code"];
  const state = { requestId: null, token: null, idempotencyKey: null, polling: null };

  const $ = (id) => document.getElementById(id);

  function randomKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---- errors: beside each field, and summarised at the top with links to the fields

  function clearErrors() {
    for (const name of FIELDS) {
      const error = $(name + "-error");
      if (error) { error.hidden = true; error.textContent = ""; }
      const input = $(name);
      if (input) input.removeAttribute("aria-invalid");
    }
    $("error-list").textContent = "";
    $("error-summary").hidden = true;
  }

  function showErrors(errors) {
    // errors: [{field: "email" | null, message: "..."}]
    const list = $("error-list");
    list.textContent = "";
    for (const { field, message } of errors) {
      const item = document.createElement("li");
      const target = field && $(field);
      if (target) {
        const error = $(field + "-error");
        error.textContent = message;
        error.hidden = false;
        target.setAttribute("aria-invalid", "true");
        const link = document.createElement("a");
        link.href = "#" + (field === "type" ? "type-access" : field);
        link.textContent = message;
        link.addEventListener("click", (event) => {
          event.preventDefault();
          (field === "type" ? document.querySelector("input[name=type]") : target).focus();
        });
        item.appendChild(link);
      } else {
        item.textContent = message;
      }
      list.appendChild(item);
    }
    $("error-summary").hidden = false;
    $("error-summary").focus();
  }

  function fieldOf(problem) {
    // "body.email" -> "email"; model-level problems ("body") name their field in the message.
    const parts = (problem.field || "").split(".");
    if (parts[1] === "agent") return parts[2] === "name" ? "agent-name" : "agent-email";
    if (parts.length > 1 && FIELDS.includes(parts[1])) return parts[1];
    const named = FIELDS.find((name) => (problem.problem || "").includes("'" + name + "'"));
    return named || null;
  }

  function apiErrors(answer, fallback) {
    if (answer && Array.isArray(answer.problems) && answer.problems.length) {
      return answer.problems.map((p) => ({ field: fieldOf(p), message: friendly(p) }));
    }
    return [{ field: fallback, message: (answer && answer.message) || "Something went wrong. Please try again." }];
  }

  function friendly(problem) {
    const field = fieldOf(problem);
    if (field === "email") return "Enter a valid email address, like name@example.com";
    if (field === "type") return "Choose what you would like us to do";
    if (field === "code") return "Enter the 6-digit code from the email";
    if (field === "note") return "The note is too long (2000 characters at most)";
    if (field === "corrections") return problem.problem.replace(/^Value error, /, "");
    return problem.problem;
  }

  // ---- API calls

  async function call(method, path, body, headers) {
    const response = await fetch(API + path, {
      method,
      headers: Object.assign(body ? { "Content-Type": "application/json" } : {}, headers || {}),
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit",
      cache: "no-store",
    });
    let answer = null;
    try { answer = await response.json(); } catch (_) { answer = null; }
    return { status: response.status, answer };
  }

  function busy(button, on) {
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  function show(sectionId) {
    for (const id of ["step-request", "step-verify", "step-status"]) $(id).hidden = id !== sectionId;
    $(sectionId + "-heading").focus();
  }

  // ---- step 1: the request

  function parseCorrections(text) {
    const corrections = {};
    const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
    for (const line of lines) {
      const at = line.indexOf("=");
      if (at < 1) return null;
      corrections[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    return lines.length ? corrections : null;
  }

  // The 1798.83 notice is a California right: say so before the API refuses it.
  function jurisdictionErrors(request) {
    if (request.type !== "disclosure_notice" || request.jurisdiction === "CCPA") return [];
    return [{ field: "jurisdiction", message: "This notice is for California residents: choose California (CCPA)" }];
  }

  function readRequest() {
    const errors = [];
    const chosen = document.querySelector("input[name=type]:checked");
    const email = $("email").value.trim();
    const request = { type: chosen ? chosen.value : null, email, jurisdiction: $("jurisdiction").value };
    if (!chosen) errors.push({ field: "type", message: "Choose what you would like us to do" });
    if (!email) errors.push({ field: "email", message: "Enter your email address" });
    else if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
      errors.push({ field: "email", message: "Enter a valid email address, like name@example.com" });
    }
    if (request.type === "rectification") {
      const corrections = parseCorrections($("corrections").value);
      if (!corrections) {
        errors.push({ field: "corrections", message: "Write each correction as field = correct value, one per line" });
      } else {
        request.corrections = corrections;
      }
    }
    errors.push(...jurisdictionErrors(request));
    readConsentAndAgent(request, errors);
    const note = $("note").value.trim();
    if (note) request.note = note;
    return { request, errors };
  }

  // Opt-out topics, the Global Privacy Control signal and an authorised agent (CCPA 7025, 7026, 7063).
  // The browser sends Sec-GPC itself (scripts may not set Sec- headers), so the form reports what it read.
  function gpcSignal() {
    return navigator.globalPrivacyControl === true;
  }

  // One checkbox per topic the API lists; without them an opt-out still withdraws all marketing.
  async function loadTopics() {
    const choices = $("topic-choices");
    let topics = [];
    try {
      const response = await fetch(API + "/topics");
      if (response.ok) topics = (await response.json()).topics || [];
    } catch (error) {
      topics = [];
    }
    choices.replaceChildren(...topics.map((topic) => {
      const choice = document.createElement("div");
      choice.className = "choice";
      const box = document.createElement("input");
      Object.assign(box, { type: "checkbox", id: "topic-" + topic, name: "topics", value: topic });
      const label = document.createElement("label");
      label.htmlFor = box.id;
      label.textContent = "Only " + topic.replace(/[-_]/g, " ");
      choice.append(box, label);
      return choice;
    }));
  }

  function readConsentAndAgent(request, errors) {
    if (request.type === "opt_out") {
      const topics = Array.from(document.querySelectorAll("input[name=topics]:checked"), (box) => box.value);
      if (topics.length) request.topics = topics;
    }
    if (gpcSignal()) request.gpc = true;
    if (!$("as-agent").checked) return;
    const name = $("agent-name").value.trim();
    const email = $("agent-email").value.trim();
    if (!name) errors.push({ field: "agent-name", message: "Enter your name or your agency's name" });
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
      errors.push({ field: "agent-email", message: "Enter a valid email address for status updates" });
    }
    request.agent = { name, email };
  }

  function showFiled(request, answer) {
    // An opt-out needs no code: it is filed verified, so the form goes straight to the status.
    if (answer.status === "verified") {
      show("step-status");
      $("status-note").textContent = "No code needed: we are acting on it now and will email you to confirm.";
      refreshStatus();
      return;
    }
    $("sent-to").textContent = request.email;
    $("verify-request-id").textContent = answer.request_id;
    show("step-verify");
  }

  async function fileRequest(event) {
    event.preventDefault();
    clearErrors();
    const { request, errors } = readRequest();
    if (errors.length) { showErrors(errors); return; }
    const button = $("submit-request");
    busy(button, true);
    // One key per filled-in form: a double click or a retry after a network error files one request.
    state.idempotencyKey = state.idempotencyKey || randomKey();
    try {
      const { status, answer } = await call("POST", "/requests", request, { "Idempotency-Key": state.idempotencyKey });
      if (status !== 202) { showErrors(apiErrors(answer, null)); return; }
      state.requestId = answer.request_id;
      state.token = answer.status_token;
      showFiled(request, answer);
    } catch (_) {
      showErrors([{ field: null, message: "We could not reach the server. Check your connection and try again." }]);
    } finally {
      busy(button, false);
    }
  }

  // ---- step 2: the code

  async function verify(event) {
    event.preventDefault();
    clearErrors();
    const code = $("code").value.replace(/\s+/g, "");
    if (!/^[0-9]{6}$/.test(code)) {
      showErrors([{ field: "code", message: "Enter the 6-digit code from the email" }]);
      return;
    }
    const button = $("submit-code");
    let finished = false; // the request left verification: no more codes to enter
    busy(button, true);
    try {
      const path = "/requests/" + encodeURIComponent(state.requestId) + "/verify";
      const { status, answer } = await call("POST", path, { code });
      if (status === 200) {
        finished = true;
        show("step-status");
        refreshStatus();
      } else if (status === 400 && answer && answer.error === "code_incorrect") {
        const left = answer.attempts_left;
        const tries = left === 1 ? "try" : "tries";
        showErrors([{ field: "code", message: `That code is not right. You have ${left} ${tries} left.` }]);
        $("code").select();
      } else if (status === 403 || status === 409 || status === 410) {
        finished = answer && answer.error !== "code_not_sent";
        showErrors(apiErrors(answer, "code"));
        if (finished) refreshStatus().then(() => { $("step-status").hidden = false; });
      } else {
        showErrors(apiErrors(answer, "code"));
      }
    } catch (_) {
      showErrors([{ field: null, message: "We could not reach the server. Check your connection and try again." }]);
    } finally {
      busy(button, false);
      if (finished) button.disabled = true;
    }
  }

  // ---- step 3: the status

  async function refreshStatus() {
    clearTimeout(state.polling);
    try {
      const { status, answer } = await call("GET", "/requests/" + encodeURIComponent(state.requestId), null, {
        "X-Status-Token": state.token,
      });
      if (status !== 200) { $("status-note").textContent = "We could not read the status just now."; return; }
      $("status-request-id").textContent = answer.request_id;
      $("status-type").textContent = TYPE_TEXT[answer.type] || answer.type;
      const value = $("status-value");
      if (value.dataset.status !== answer.status) {
        value.dataset.status = answer.status;
        value.textContent = STATUS_TEXT[answer.status] || answer.status;
      }
      $("status-due").textContent = new Date(answer.due_at).toUTCString();
      $("status-completed").textContent = answer.completed_at ? new Date(answer.completed_at).toUTCString() : "not yet";
      $("status-note").textContent = TERMINAL.has(answer.status) ? "" : "This page checks again every few seconds.";
      $("cancel-request").hidden = !CANCELLABLE.has(answer.status);
      if (!TERMINAL.has(answer.status)) state.polling = setTimeout(refreshStatus, 2000);
    } catch (_) {
      $("status-note").textContent = "We could not reach the server; trying again shortly.";
      state.polling = setTimeout(refreshStatus, 5000);
    }
  }

  async function cancelRequest() {
    const button = $("cancel-request");
    busy(button, true);
    try {
      const path = "/requests/" + encodeURIComponent(state.requestId) + "/cancel";
      const { status, answer } = await call("POST", path, null, { "X-Status-Token": state.token });
      if (status === 200) {
        button.hidden = true;
        await refreshStatus();
      } else {
        // 409: something was already done; the message says so.
        $("status-note").textContent = (answer && answer.message) || "We could not cancel the request.";
        if (status === 409) button.hidden = true;
      }
    } catch (_) {
      $("status-note").textContent = "We could not reach the server. Check your connection and try again.";
    } finally {
      busy(button, false);
    }
  }

  // ---- wiring

  document.addEventListener("DOMContentLoaded", () => {
    for (const radio of document.querySelectorAll("input[name=type]")) {
      radio.addEventListener("change", () => {
        $("corrections-field").hidden = radio.value !== "rectification" || !radio.checked;
      });
    }
    // A changed form is a new request: it gets a new idempotency key.
    for (const radio of document.querySelectorAll("input[name=type]")) {
      radio.addEventListener("change", () => { $("topics").hidden = !$("type-opt_out").checked; });
    }
    $("as-agent").addEventListener("change", () => { $("agent-fields").hidden = !$("as-agent").checked; });
    $("gpc-notice").hidden = !gpcSignal();
    loadTopics();
    $("request-form").addEventListener("input", () => { state.idempotencyKey = null; });
    $("request-form").addEventListener("submit", fileRequest);
    $("verify-form").addEventListener("submit", verify);
    $("refresh-status").addEventListener("click", refreshStatus);
    $("cancel-request").addEventListener("click", cancelRequest);
  });
})();
