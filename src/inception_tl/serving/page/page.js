// The page of serve.py: send the chosen or dropped photo to POST /predict, show the answer as bars.
"use strict";

const drop = document.getElementById("drop");
const input = document.getElementById("file");
const preview = document.getElementById("preview");
const statusLine = document.getElementById("status");
const results = document.getElementById("results");
const camBox = document.getElementById("cam");
const camMap = document.getElementById("cam-map");

fetch("/model").then((response) => response.json()).then((model) => {
  document.getElementById("model-name").textContent = model.name;
  document.title = `${model.name} · inception_tl`;
  const kind = model.multi_label ? "labels" : "classes";
  document.getElementById("model-details").textContent =
    `${model.backbone}, ${model.class_names.length} ${kind}: ${model.class_names.join(", ")} (${model.version})`;
}).catch(() => { document.getElementById("model-details").textContent = "The model's description is unavailable."; });

function showStatus(text, isError) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", Boolean(isError));
}

function row(label, probability, chosen) {
  const item = document.createElement("li");
  item.className = chosen ? "chosen" : "";
  item.dataset.label = label;
  const name = document.createElement("span");
  name.className = "label";
  name.textContent = label;
  const bar = document.createElement("span");
  bar.className = "bar";
  const fill = document.createElement("span");
  fill.style.width = `${(100 * probability).toFixed(1)}%`;
  bar.appendChild(fill);
  const value = document.createElement("span");
  value.className = "value";
  value.textContent = probability.toFixed(3);
  item.append(name, bar, value);
  return item;
}

function render(answer) {
  results.replaceChildren();
  if (answer.predictions) {  // one class per image: the top classes, most probable first
    answer.predictions.forEach((p, index) => results.appendChild(row(p.label, p.probability, index === 0)));
    const best = answer.predictions[0];
    showStatus(`${best.label} (${best.probability.toFixed(3)})`);
  } else {  // several labels per image: every label, those at their threshold in bold
    const chosen = new Set(answer.labels);
    Object.entries(answer.probabilities).sort((a, b) => b[1] - a[1])
      .forEach(([label, p]) => results.appendChild(row(label, p, chosen.has(label))));
    showStatus(answer.labels.length ? answer.labels.join(", ") : "(no label)");
  }
  if (answer.cam) {  // asked for: the map of the top class over the crop the model saw
    camMap.src = answer.cam;
    camMap.hidden = false;
  }
  document.body.dataset.predicted = answer.predictions ? answer.predictions[0].label : answer.labels.join(";");
}

async function classify(file) {
  if (!file) return;
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  results.replaceChildren();
  camMap.hidden = true;
  delete document.body.dataset.predicted;
  showStatus("Classifying…");
  const form = new FormData();
  form.append("image", file, file.name);
  try {
    const response = await fetch(camBox.checked ? "/predict?cam=true" : "/predict", { method: "POST", body: form });
    const answer = await response.json();
    if (!response.ok) {
      showStatus(answer.error || `The server answered ${response.status}.`, true);
      document.body.dataset.predicted = "";
      return;
    }
    render(answer);
  } catch (error) {
    showStatus(`The server could not be reached: ${error}`, true);
  }
}

input.addEventListener("change", () => classify(input.files[0]));
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  classify(event.dataTransfer.files[0]);
});
