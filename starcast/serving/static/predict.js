// The welcome page's form: typed-in features (or owner/name) to POST /api/v1/predict, as JSON.
"use strict";

function featureValue(input) {
  const text = input.value.trim();
  if (text === "") return undefined; // unknown: left out of the request
  switch (input.dataset.kind) {
    case "boolean": return text === "true";
    case "integer": return Number.parseInt(text, 10);
    case "number": return Number.parseFloat(text);
    default: return text;
  }
}

function show(output, lines, kind) {
  output.replaceChildren();
  for (const [text, cls] of lines) {
    const line = document.createElement("p");
    line.textContent = text;
    if (cls) line.className = cls;
    output.append(line);
  }
  output.dataset.state = kind;
}

async function predict(form, output) {
  const features = {};
  for (const input of form.querySelectorAll("[data-feature]")) {
    const value = featureValue(input);
    if (value !== undefined) features[input.dataset.feature] = value;
  }
  const repository = {};
  const fullName = form.elements.full_name ? form.elements.full_name.value.trim() : "";
  if (fullName) repository.full_name = fullName;
  if (!fullName || Object.keys(features).length > 0) repository.features = features;
  show(output, [["predicting…", null]], "pending");
  try {
    const answer = await fetch("/api/v1/predict", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ repositories: [repository] }),
    });
    const body = await answer.json();
    if (!answer.ok) {
      show(output, [[body.detail, "error"]], "error");
      return;
    }
    const [prediction] = body.predictions;
    const stars = Math.round(prediction.predicted_stars).toLocaleString("en");
    show(output, [
      [`≈ ${stars} stars`, "stars"],
      [`model ${prediction.model_version}`, null],
      ...prediction.warnings.map((warning) => [warning, "warning"]),
    ], "done");
  } catch (error) {
    show(output, [[`the request failed: ${error}`, "error"]], "error");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("predict-form");
  const output = document.getElementById("prediction");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    predict(form, output);
  });
});
