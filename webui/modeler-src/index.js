// The modeler page: bpmn-js with its properties panel and the 便民属性 group over one procedure draft. It loads the
// draft's files, saves the diagram (Ctrl+S or the button), marks every problem the save's check returns on its
// element, and publishes.
import './modeler.css';
import BpmnModeler from 'bpmn-js/lib/Modeler';
import DistributeElementsModule from 'bpmn-js/lib/features/distribute-elements';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import spiffworkflow from './spiffworkflow.json';
import { TranslateModule } from './translate';
import BianminPropertiesModule from './provider';

const DIAGRAM = 'process.bpmn';
const PALETTE_WIDTH = 110;
const root = document.getElementById('modeler');
const status = document.getElementById('modeler-status');
const list = document.getElementById('problems');
const summary = document.getElementById('problems-summary');
const files = {};
const config = {
  csrf: root.dataset.csrf,
  urls: {
    files: root.dataset.filesUrl,
    publish: root.dataset.publishUrl,
    checkCode: root.dataset.checkCodeUrl,
    roles: root.dataset.rolesUrl,
    connectors: root.dataset.connectorsUrl,
    formEditor: root.dataset.formEditorUrl
  },
  roles: [],
  connectors: [],
  forms: () => Object.keys(files).filter((path) => /^forms\/[^/]+\.schema\.json$/.test(path)).map(baseName),
  uiForms: () => Object.keys(files).filter((path) => /^forms\/[^/]+\.uischema\.json$/.test(path)).map(baseName),
  // A draft form's fields with their options: what a sign-off's decision field (signField) is chosen from.
  formFields: (name) => {
    let schema;
    try {
      schema = JSON.parse(files[`forms/${name}`] || '{}');
    } catch (error) {
      return [];
    }
    return Object.entries((schema && schema.properties) || {}).map(([key, prop]) => ({
      name: key,
      title: (prop && prop.title) || key,
      options: [...((prop && prop.oneOf) || []).filter((option) => option && 'const' in option)
        .map((option) => ({ value: String(option.const), title: option.title || String(option.const) })),
      ...((prop && prop.enum) || []).map((value) => ({ value: String(value), title: String(value) }))]
    }));
  }
};

function baseName(path) {
  return path.slice(path.lastIndexOf('/') + 1);
}

// A new draft has no diagram yet: one pool, one lane and a start event to draw on (high in the lane, so it
// stays in the upper lane when the lane is divided).
function blankDiagram(id, name) {
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_${id}" targetNamespace="http://bpmn.io/schema/bpmn" exporter="bianmin" exporterVersion="1.0">
  <bpmn:collaboration id="Collaboration_${id}"><bpmn:participant id="Participant_${id}" name="${name}" processRef="${id}" /></bpmn:collaboration>
  <bpmn:process id="${id}" name="${name}" isExecutable="true">
    <bpmn:laneSet id="LaneSet_${id}"><bpmn:lane id="Lane_1" name="village_agent"><bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1" name="提出申请" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1"><bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Collaboration_${id}">
    <bpmndi:BPMNShape id="Participant_${id}_di" bpmnElement="Participant_${id}" isHorizontal="true"><dc:Bounds x="120" y="60" width="900" height="240" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="Lane_1_di" bpmnElement="Lane_1" isHorizontal="true"><dc:Bounds x="150" y="60" width="870" height="240" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1"><dc:Bounds x="212" y="102" width="36" height="36" /></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>`;
}

// Without "distribute elements": its menu's icons carry style attributes, which the pages' CSP refuses.
class Modeler extends BpmnModeler {}
Modeler.prototype._modules = BpmnModeler.prototype._modules.filter((module) => module !== DistributeElementsModule);

const modeler = new Modeler({
  container: '#canvas',
  propertiesPanel: { parent: '#properties' },
  additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, TranslateModule,
    BianminPropertiesModule, { bianminConfig: ['value', config] }],
  moddleExtensions: { spiffworkflow }
});

function say(text, kind) {
  status.textContent = text;
  status.className = `modeler-status ${kind || ''}`;
}

async function call(url, options) {
  const response = await fetch(url, {
    credentials: 'same-origin',
    ...options,
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': config.csrf, ...(options && options.headers) }
  });
  const body = await response.json().catch(() => ({ error: `服务器返回 HTTP ${response.status}` }));
  return { response, body };
}

// -- problems: a list under the canvas and a mark on each element --------------------------------------------------
let marked = [];

function clearMarks() {
  const canvas = modeler.get('canvas');
  const overlays = modeler.get('overlays');
  for (const id of marked) {
    canvas.removeMarker(id, 'bm-has-error');
    canvas.removeMarker(id, 'bm-has-warning');
  }
  overlays.remove({ type: 'bm-problem' });
  marked = [];
}

function showProblems(problems, heading) {
  clearMarks();
  const registry = modeler.get('elementRegistry');
  const canvas = modeler.get('canvas');
  const overlays = modeler.get('overlays');
  const counts = {};
  list.replaceChildren();
  const errors = problems.filter((problem) => problem.severity !== 'warning').length;
  summary.textContent = heading || (problems.length
    ? `检查发现 ${errors} 处错误、${problems.length - errors} 处提示${errors ? '：有错误的流程可以保存为草稿，但不能发布' : ''}`
    : '检查通过：没有发现问题');
  summary.className = `problems-summary ${errors ? 'is-error' : problems.length ? 'is-warning' : 'is-ok'}`;
  for (const problem of problems) {
    const warning = problem.severity === 'warning';
    const element = problem.element_id && registry.get(problem.element_id);
    const item = document.createElement('li');
    item.className = `problem ${warning ? 'problem-warning' : 'problem-error'}`;
    item.dataset.elementId = problem.element_id || '';
    const badge = document.createElement('span');
    badge.className = `badge ${warning ? 'badge-warn' : 'badge-danger'}`;
    badge.textContent = warning ? '提示' : '错误';
    const where = document.createElement('strong');
    where.textContent = problem.element_id
      ? (problem.element_name ? `${problem.element_name}（${problem.element_id}）` : problem.element_id)
      : problem.file;
    const text = document.createElement('span');
    text.textContent = problem.message;
    item.append(badge, where, text);
    if (element) {
      item.tabIndex = 0;
      item.classList.add('problem-linked');
      const go = () => {
        modeler.get('selection').select(element);
        canvas.scrollToElement(element, { top: 120, bottom: 120, left: 160, right: 160 });
      };
      item.addEventListener('click', go);
      item.addEventListener('keydown', (event) => { if (event.key === 'Enter') go(); });
      canvas.addMarker(element, warning ? 'bm-has-warning' : 'bm-has-error');
      marked.push(element.id);
      counts[element.id] = counts[element.id] || { errors: 0, warnings: 0, element };
      counts[element.id][warning ? 'warnings' : 'errors'] += 1;
    }
    list.append(item);
  }
  for (const { errors: bad, warnings, element } of Object.values(counts)) {
    const mark = document.createElement('div');
    mark.className = `bm-problem-mark ${bad ? 'is-error' : 'is-warning'}`;
    mark.textContent = bad ? `✕ ${bad}` : `! ${warnings}`;
    mark.title = `${bad} 处错误、${warnings} 处提示，见下方问题列表`;
    // Lanes and pools are wide: their mark sits by their name, at the left, where the eye looks for it.
    const wide = element.type === 'bpmn:Lane' || element.type === 'bpmn:Participant';
    const position = element.waypoints ? { top: -10, left: -10 } : wide ? { top: 6, left: 34 } : { top: -12, right: 12 };
    overlays.add(element, 'bm-problem', { position, html: mark });
  }
}

// -- load, save, publish ----------------------------------------------------------------------------------------------
let dirty = false;
modeler.get('eventBus').on('commandStack.changed', () => {
  dirty = true;
  say('有未保存的修改（Ctrl+S 保存）', 'is-dirty');
});

async function load() {
  const [draft, roles, connectors] = await Promise.all([
    call(config.urls.files), call(config.urls.roles), call(config.urls.connectors)]);
  if (!draft.response.ok) {
    say(draft.body.error || '无法读取草稿文件', 'is-error');
    return;
  }
  config.roles = roles.response.ok ? roles.body.roles : [];
  config.connectors = connectors.response.ok ? connectors.body.connectors : [];
  Object.assign(files, draft.body.files);
  const xml = files[DIAGRAM] || blankDiagram(`Process_${root.dataset.draftId}`, root.dataset.name);
  try {
    const { warnings } = await modeler.importXML(xml);
    // Extensions of a namespace bpmn-js does not know are kept; an unknown spiffworkflow element is not.
    const lost = warnings.map((warning) => (warning.message || '').split('\n')[0]);
    if (lost.length) {
      say(`已打开，但有 ${lost.length} 处内容无法识别，保存后将丢失：${lost.join('；')}`, 'is-error');
    } else {
      say(files[DIAGRAM] ? '已打开' : '新流程：请从左侧工具栏拖入元素，保存后检查', '');
    }
  } catch (error) {
    say(`流程图无法打开：${error.message}`, 'is-error');
    return;
  }
  fitBesidePalette();
  const earlier = draft.body.problems || [];
  showProblems(earlier, files[DIAGRAM] && `上次保存时的检查：${earlier.length ? `${earlier.length} 处问题，见下方列表` : '没有发现问题'}`);
  dirty = false;
  root.dataset.ready = 'true';
}

// The whole drawing in view, right of the palette that floats over the canvas's left edge, never enlarged.
function fitBesidePalette() {
  const canvas = modeler.get('canvas');
  const { inner, outer } = canvas.viewbox();
  if (!inner.width || !inner.height) return;
  const margin = 24;
  const scale = Math.min((outer.width - PALETTE_WIDTH - 2 * margin) / inner.width,
    (outer.height - 2 * margin) / inner.height, 1);
  canvas.viewbox({ x: inner.x - (PALETTE_WIDTH + margin) / scale, y: inner.y - margin / scale,
    width: outer.width / scale, height: outer.height / scale });
}

let saving = null;

async function save() {
  // A published draft is kept as the record of what was published: the page only shows it.
  if (document.getElementById('save').disabled) return false;
  if (saving) return saving;
  saving = (async () => {
    say('正在保存并检查…', '');
    const { xml } = await modeler.saveXML({ format: true });
    const { response, body } = await call(config.urls.files, {
      method: 'POST', body: JSON.stringify({ files: { [DIAGRAM]: xml } })
    });
    if (!response.ok) {
      say(`保存失败：${body.error || response.status}`, 'is-error');
      if (body.problems) showProblems(body.problems);
      return false;
    }
    files[DIAGRAM] = xml;
    dirty = false;
    const time = body.saved_at ? new Date(body.saved_at).toLocaleTimeString('zh-CN', { hour12: false }) : '';
    say(`已保存 ${time}`, 'is-ok');
    showProblems(body.problems || []);
    return true;
  })();
  try {
    return await saving;
  } finally {
    saving = null;
  }
}

async function publish() {
  if (!(await save())) return;
  say('正在发布…', '');
  const { response, body } = await call(config.urls.publish, { method: 'POST', body: '{}' });
  if (response.ok) {
    say(`已发布：${body.item_code} 第 ${body.version} 版，新办件将使用此版本`, 'is-ok');
    document.getElementById('publish').disabled = true;
    return;
  }
  say(`未发布：${body.error || `HTTP ${response.status}`}`, 'is-error');
  if (body.problems) showProblems(body.problems, `未发布：${body.error || '流程有错误'}。请改正下列问题后再发布`);
}

document.getElementById('save').addEventListener('click', save);
document.getElementById('publish').addEventListener('click', publish);
document.addEventListener('keydown', (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 's') {
    event.preventDefault();
    save();
  }
});
window.addEventListener('beforeunload', (event) => {
  if (dirty) event.preventDefault();
});

load();
