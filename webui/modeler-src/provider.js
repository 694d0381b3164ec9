// The 便民属性 group of the properties panel: what Bianmin's engine reads from a lane, a user task (its form, clock and
// sign-off), a timer, a script task and a gateway's outgoing flows, kept as standard BPMN or spiffworkflow:properties.
import { jsx } from '@bpmn-io/properties-panel/preact/jsx-runtime';
import { useEffect } from '@bpmn-io/properties-panel/preact/hooks';
import {
  CheckboxEntry, SelectEntry, TextAreaEntry, TextFieldEntry,
  isCheckboxEntryEdited, isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';
import { getProperty, setProperties } from './properties';
import CodeChecker from './checker';
import { serviceEntries } from './service';

// engine/deadlines/marks.py PAUSE_REASONS (行政许可法 §45, 公示, 补正, 现场勘察).
const PAUSE_REASONS = ['公示', '补正', '现场勘察', '听证', '检验检测', '鉴定', '专家评审'];
const TIMER_TYPES = [
  { value: 'timeDuration', label: '时长（如 "P7D"）' },
  { value: 'timeDate', label: '日期时间（如 "2026-05-01T09:00:00+08:00"）' },
  { value: 'timeCycle', label: '重复周期（如 "R3/PT10M"）' }
];
const FORM_SUFFIX = '.schema.json';
const UI_SUFFIX = '.uischema.json';
const LOW_PRIORITY = 400;

function timerDefinition(element) {
  const definitions = getBusinessObject(element).eventDefinitions || [];
  return definitions.find((definition) => is(definition, 'bpmn:TimerEventDefinition'));
}

function isGatewayFlow(element) {
  return is(element, 'bpmn:SequenceFlow') && element.source &&
    (is(element.source, 'bpmn:ExclusiveGateway') || is(element.source, 'bpmn:InclusiveGateway'));
}

function useProperty(element, name) {
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  return {
    getValue: () => getProperty(element, name),
    setValue: (value) => setProperties(element, { [name]: value }, bpmnFactory, commandStack)
  };
}

function LaneRole({ element, id }) {
  const modeling = useService('modeling');
  const config = useService('bianminConfig');
  const getValue = () => getBusinessObject(element).name || '';
  const getOptions = () => {
    const current = getValue();
    const options = [{ value: '', label: '（请选择岗位）' },
      ...config.roles.map((role) => ({ value: role.code, label: `${role.name}（${role.code}）` }))];
    if (current && !config.roles.some((role) => role.code === current)) {
      options.push({ value: current, label: `${current}（不是已知的角色）` });
    }
    return options;
  };
  return jsx(SelectEntry, {
    element, id, label: '办理岗位（角色）', getValue, getOptions,
    setValue: (value) => modeling.updateProperties(element, { name: value }),
    description: '泳道的名称即角色代码：泳道中的用户任务由该岗位办理'
  });
}

function Acceptance({ element, id }) {
  const { getValue, setValue } = useProperty(element, 'acceptanceStep');
  return jsx(CheckboxEntry, {
    element, id, label: '受理环节（此环节办结即受理，承诺时限由此起算）',
    getValue: () => getValue() === 'true', setValue: (checked) => setValue(checked ? 'true' : '')
  });
}

function Form({ element, id }) {
  const config = useService('bianminConfig');
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const getValue = () => getProperty(element, 'formJsonSchemaFilename');
  const getOptions = () => {
    const names = config.forms();
    const current = getValue();
    const options = [{ value: '', label: '（无表单：只填办理意见）' }, ...names.map((name) => ({ value: name, label: name }))];
    if (current && !names.includes(current)) options.push({ value: current, label: `${current}（草稿中没有此文件）` });
    return options;
  };
  const setValue = (value) => {
    const ui = value ? value.slice(0, -FORM_SUFFIX.length) + UI_SUFFIX : '';
    setProperties(element, {
      formJsonSchemaFilename: value,
      formUiSchemaFilename: config.uiForms().includes(ui) ? ui : ''
    }, bpmnFactory, commandStack);
  };
  return jsx(SelectEntry, { element, id, label: '表单', getValue, setValue, getOptions });
}

function FormLink({ element }) {
  const config = useService('bianminConfig');
  const form = getProperty(element, 'formJsonSchemaFilename');
  const name = form.endsWith(FORM_SUFFIX) ? form.slice(0, -FORM_SUFFIX.length) : '';
  const href = `${config.urls.formEditor}${encodeURIComponent(name || element.id)}`;
  return jsx('div', {
    class: 'bio-properties-panel-entry bm-form-link',
    children: jsx('a', { href, target: '_blank', rel: 'noopener', id: 'bm-edit-form',
      children: name ? `编辑表单 ${name} ↗` : '新建表单 ↗' })
  });
}

function WorkingDays({ element, id, property, label, description }) {
  const debounce = useService('debounceInput');
  const { getValue, setValue } = useProperty(element, property);
  return jsx(TextFieldEntry, {
    element, id, label, description, getValue, setValue, debounce,
    validate: (value) => (!value || /^[1-9][0-9]{0,3}$/.test(value.trim()) ? null : '请填写正整数（工作日数）')
  });
}

// 抄送 (engine/tasks/copy.py COPY_TO): role codes, comma-separated; each copied at its role's level of the case's place.
function CopyTo({ element, id }) {
  const debounce = useService('debounceInput');
  const config = useService('bianminConfig');
  const { getValue, setValue } = useProperty(element, 'copyTo');
  const known = () => config.roles.map((role) => role.code);
  return jsx(TextFieldEntry, {
    element, id, label: '办结时抄送（角色代码，逗号分隔）', getValue, setValue, debounce,
    description: '此环节办结时抄送给办件所在村、乡镇或县的这些岗位，仅供查阅，例如 town_leader,county_civil_affairs',
    validate: (value) => {
      const unknown = (value || '').split(/[,，、]/).map((code) => code.trim())
        .filter((code) => code && !known().includes(code));
      return unknown.length ? `不是已知的角色代码：${unknown.join('、')}` : null;
    }
  });
}

function Pause({ element, id }) {
  const { getValue, setValue } = useProperty(element, 'clockPause');
  return jsx(SelectEntry, {
    element, id, label: '等待期间暂停计时（原因）', getValue, setValue,
    getOptions: () => [{ value: '', label: '（不暂停：计入承诺时限）' },
      ...PAUSE_REASONS.map((reason) => ({ value: reason, label: reason }))],
    description: '行政许可法第四十五条：公示、补正、听证、检验检测、鉴定、专家评审等期间不计入时限'
  });
}

// A code entry: its text is checked by the server as typed, and again when its element is selected.
function Code({ element, id, kind, label, description, getValue, setValue, timer }) {
  const debounce = useService('debounceInput');
  const checker = useService('bianminCodeChecker');
  const timerType = timer ? timer() : '';
  useEffect(() => { checker.check(id, kind, getValue(), timerType); }, [element, timerType]);
  return jsx(TextAreaEntry, {
    element, id, label, description, getValue, debounce, monospace: true, rows: kind === 'script' ? 6 : 2,
    setValue: (value) => { setValue(value); checker.check(id, kind, value, timerType); }
  });
}

function Script({ element, id }) {
  const modeling = useService('modeling');
  return jsx(Code, {
    element, id, kind: 'script', label: '脚本（Python，在沙箱中运行）',
    getValue: () => getBusinessObject(element).script || '',
    setValue: (value) => modeling.updateProperties(element, { scriptFormat: 'python', script: value })
  });
}

function Condition({ element, id }) {
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const getValue = () => {
    const expression = getBusinessObject(element).conditionExpression;
    return (expression && expression.body) || '';
  };
  const setValue = (value) => modeling.updateProperties(element, {
    conditionExpression: value ? bpmnFactory.create('bpmn:FormalExpression', { body: value }) : undefined
  });
  return jsx(Code, {
    element, id, kind: 'condition', label: '条件表达式（Python）', getValue, setValue,
    description: '例如 decision == "approve"；网关的默认流不需要条件'
  });
}

function timerType(element) {
  const definition = timerDefinition(element);
  return TIMER_TYPES.map((type) => type.value).find((type) => definition && definition.get(type)) || 'timeDuration';
}

function TimerType({ element, id }) {
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const setValue = (type) => {
    const definition = timerDefinition(element);
    const old = definition.get(timerType(element));
    const changes = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
    changes[type] = bpmnFactory.create('bpmn:FormalExpression', { body: (old && old.body) || '' });
    modeling.updateModdleProperties(element, definition, changes);
  };
  return jsx(SelectEntry, {
    element, id, label: '定时器类型', getValue: () => timerType(element), setValue, getOptions: () => TIMER_TYPES
  });
}

function TimerExpression({ element, id }) {
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const getValue = () => {
    const expression = timerDefinition(element).get(timerType(element));
    return (expression && expression.body) || '';
  };
  const setValue = (value) => modeling.updateModdleProperties(element, timerDefinition(element), {
    [timerType(element)]: bpmnFactory.create('bpmn:FormalExpression', { body: value })
  });
  return jsx(Code, {
    element, id, kind: 'timer', label: '定时器表达式（带引号的 ISO 8601 文本）', getValue, setValue,
    timer: () => timerType(element),
    description: '填了“工作日天数”时按工作日计，此表达式不用于计时'
  });
}

// 会签/或签 (engine/tasks/countersign.py): who signs, how many must approve, and which answer approves.
const SIGN_MODES = [
  { value: '', label: '（不会签：由泳道的岗位办理）' },
  { value: 'all', label: '会签：所列岗位须全部同意' },
  { value: 'any', label: '或签：任一岗位同意即可' },
  { value: 'ratio', label: '按比例会签：达到比例即通过（如 2/3）' }
];
const SIGN_PROPERTIES = ['signMode', 'signRatio', 'signPosts', 'signField', 'signApprove'];

function SignMode({ element, id }) {
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const setValue = (value) => {
    // Off: every sign-off property goes, in one undo step; another mode keeps a ratio only for ratio.
    const changes = value ? { signMode: value } : Object.fromEntries(SIGN_PROPERTIES.map((name) => [name, '']));
    if (value && value !== 'ratio') changes.signRatio = '';
    setProperties(element, changes, bpmnFactory, commandStack);
  };
  return jsx(SelectEntry, {
    element, id, label: '会签方式', getValue: () => getProperty(element, 'signMode'), setValue,
    getOptions: () => SIGN_MODES,
    description: '多个岗位共同签署本环节：各岗位各有一个签署任务，结果确定后办件自动进入下一环节'
  });
}

function SignRatio({ element, id }) {
  const debounce = useService('debounceInput');
  const { getValue, setValue } = useProperty(element, 'signRatio');
  const validate = (value) => {
    const found = /^\s*(\d{1,3})\s*\/\s*(\d{1,3})\s*$/.exec(value || '');
    return found && Number(found[1]) > 0 && Number(found[1]) <= Number(found[2]) ? null
      : '请写成“同意数/岗位数”，如 2/3；分子须大于 0 且不大于分母';
  };
  return jsx(TextFieldEntry, {
    element, id, label: '通过比例', getValue, setValue, debounce, validate,
    description: '如 2/3：三分之二的岗位同意即通过（按岗位数向上取整）'
  });
}

function SignPosts({ element, id }) {
  const debounce = useService('debounceInput');
  const config = useService('bianminConfig');
  const { getValue, setValue } = useProperty(element, 'signPosts');
  const codes = (value) => (value || '').split(/[,，]/).map((code) => code.trim()).filter(Boolean);
  const named = codes(getValue()).map((code) => {
    const role = config.roles.find((known) => known.code === code);
    return role ? role.name : `${code}（未知）`;
  });
  const validate = (value) => {
    const unknown = codes(value).filter((code) => !config.roles.some((role) => role.code === code));
    if (unknown.length) return `不是已知的角色代码：${unknown.join('、')}`;
    return new Set(codes(value)).size < 2 ? '会签至少要有两个岗位' : null;
  };
  return jsx(TextFieldEntry, {
    element, id, label: '签署岗位（角色代码，用逗号分隔）', getValue, setValue, debounce, validate,
    description: named.length ? `签署的岗位：${named.join('、')}（按各角色的层级，由办件所在村、乡镇或县的该岗位签署）`
      : `如 town_civil_affairs,town_leader。可选：${config.roles.map((role) => `${role.code}（${role.name}）`).join('、')}`
  });
}

function SignField({ element, id }) {
  const config = useService('bianminConfig');
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const getValue = () => getProperty(element, 'signField');
  const getOptions = () => {
    const fields = config.formFields(getProperty(element, 'formJsonSchemaFilename'));
    const options = [{ value: '', label: '（请选择表单中记录结论的字段）' },
      ...fields.filter((field) => field.options.length).map((field) => ({ value: field.name, label: `${field.title}（${field.name}）` }))];
    const current = getValue();
    if (current && !options.some((option) => option.value === current)) {
      options.push({ value: current, label: `${current}（表单中没有此字段）` });
    }
    return options;
  };
  // A new field's approving value is chosen again.
  const setValue = (value) => setProperties(element, { signField: value, signApprove: '' }, bpmnFactory, commandStack);
  return jsx(SelectEntry, {
    element, id, label: '结论字段', getValue, setValue, getOptions,
    description: '每位签署人在此字段中给出结论（如“审核结论”）'
  });
}

function SignApprove({ element, id }) {
  const config = useService('bianminConfig');
  const { getValue, setValue } = useProperty(element, 'signApprove');
  const getOptions = () => {
    const field = config.formFields(getProperty(element, 'formJsonSchemaFilename'))
      .find((found) => found.name === getProperty(element, 'signField'));
    const options = [{ value: '', label: '（请选择表示同意的取值）' },
      ...(field ? field.options : []).map((option) => ({ value: option.value, label: `${option.title}（${option.value}）` }))];
    const current = getValue();
    if (current && !options.some((option) => option.value === current)) options.push({ value: current, label: current });
    return options;
  };
  return jsx(SelectEntry, { element, id, label: '表示同意的取值', getValue, setValue, getOptions });
}

function entries(element, config) {
  const found = [];
  const add = (id, component, isEdited, extra = {}) => found.push({ id: `bm-${id}`, component, isEdited, ...extra });
  if (is(element, 'bpmn:Lane')) add('role', LaneRole, isSelectEntryEdited);
  if (is(element, 'bpmn:UserTask')) {
    add('acceptance', Acceptance, isCheckboxEntryEdited);
    add('form', Form, isSelectEntryEdited);
    add('form-link', FormLink, () => false);
    add('step-limit', WorkingDays, isTextFieldEntryEdited, {
      property: 'timeLimitWorkingDays', label: '环节时限（工作日）', description: '任务到达后须在此工作日数内办结，逾期标红'
    });
    add('pause', Pause, isSelectEntryEdited);
    add('copy-to', CopyTo, isTextFieldEntryEdited);
    add('sign-mode', SignMode, isSelectEntryEdited);
    if (getProperty(element, 'signMode')) {
      if (getProperty(element, 'signMode') === 'ratio') add('sign-ratio', SignRatio, isTextFieldEntryEdited);
      add('sign-posts', SignPosts, isTextFieldEntryEdited);
      add('sign-field', SignField, isSelectEntryEdited);
      add('sign-approve', SignApprove, isSelectEntryEdited);
    }
  }
  if (timerDefinition(element)) {
    add('timer-type', TimerType, isSelectEntryEdited);
    add('timer', TimerExpression, isTextAreaEntryEdited);
    add('working-days', WorkingDays, isTextFieldEntryEdited, {
      property: 'workingDays', label: '定时器时长（工作日）', description: '到第 N 个工作日结束时触发，节假日不计'
    });
    add('pause', Pause, isSelectEntryEdited);
  }
  if (is(element, 'bpmn:ScriptTask')) add('script', Script, isTextAreaEntryEdited);
  serviceEntries(element, add, config);
  if (isGatewayFlow(element)) add('condition', Condition, isTextAreaEntryEdited);
  return found;
}

function BianminPropertiesProvider(propertiesPanel, bianminConfig) {
  this.getGroups = (element) => (groups) => {
    const found = entries(element, bianminConfig);
    if (!found.length) return groups;
    // Our timer entries replace the generic ones: the engine reads the expression as Python, checked as typed.
    const kept = timerDefinition(element) ? groups.filter((group) => group.id !== 'timer') : groups;
    const general = kept.findIndex((group) => group.id === 'general');
    kept.splice(general + 1, 0, { id: 'bianmin', label: '便民属性', entries: found, shouldOpen: true });
    return kept;
  };
  propertiesPanel.registerProvider(LOW_PRIORITY, this);
}

BianminPropertiesProvider.$inject = ['propertiesPanel', 'bianminConfig'];

export default {
  __init__: ['bianminPropertiesProvider'],
  bianminPropertiesProvider: ['type', BianminPropertiesProvider],
  bianminCodeChecker: ['type', CodeChecker]
};
