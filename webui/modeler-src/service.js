// A service task's spiffworkflow:serviceTaskOperator (spiff-arena's form): the connector it calls, the variable its
// result goes in, and one expression per parameter the connector declares (engine/outbox, connectors/).
import { jsx } from '@bpmn-io/properties-panel/preact/jsx-runtime';
import { SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';
import { extensionsOf, update } from './properties';

function extensionValues(bo) {
  return (bo.extensionElements && bo.extensionElements.get('values')) || [];
}

function operatorOf(element) {
  return extensionValues(getBusinessObject(element)).find((value) => is(value, 'spiffworkflow:ServiceTaskOperator'));
}

export function serviceTaskState(element) {
  const operator = operatorOf(element);
  const list = operator && operator.get('parameters');
  const params = {};
  for (const param of (list && list.get('parameter')) || []) params[param.id] = param.value || '';
  return { connector: (operator && operator.id) || '', result: (operator && operator.resultVariable) || '', params };
}

// Writes the whole operator anew from `state` (one undo step); parameters left empty are dropped.
function writeOperator(element, state, bpmnFactory, commandStack) {
  const bo = getBusinessObject(element);
  const commands = [];
  const extensions = extensionsOf(element, bo, bpmnFactory, commands);
  const operator = bpmnFactory.create('spiffworkflow:ServiceTaskOperator', { id: state.connector });
  if (state.result) operator.resultVariable = state.result;
  const list = bpmnFactory.create('spiffworkflow:Parameters', { parameter: [] });
  for (const [name, value] of Object.entries(state.params)) {
    if (!value) continue;
    const param = bpmnFactory.create('spiffworkflow:Parameter', { id: name, type: 'any', value });
    param.$parent = list;
    list.get('parameter').push(param);
  }
  list.$parent = operator;
  operator.parameters = list;
  operator.$parent = extensions;
  const kept = extensionValues(bo).filter((value) => !is(value, 'spiffworkflow:ServiceTaskOperator'));
  commands.push(update(element, extensions, { values: [...kept, operator] }));
  commandStack.execute('properties-panel.multi-command-executor', commands);
}

function useOperator(element) {
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  return (change) => writeOperator(element, { ...serviceTaskState(element), ...change(serviceTaskState(element)) },
    bpmnFactory, commandStack);
}

function ServiceConnector({ element, id }) {
  const config = useService('bianminConfig');
  const write = useOperator(element);
  const getOptions = () => {
    const current = serviceTaskState(element).connector;
    const options = [{ value: '', label: '（请选择连接器）' },
      ...config.connectors.map((connector) => ({ value: connector.name, label: `${connector.title}（${connector.name}）` }))];
    if (current && !config.connectors.some((connector) => connector.name === current)) {
      options.push({ value: current, label: `${current}（不是已有的连接器）` });
    }
    return options;
  };
  return jsx(SelectEntry, {
    element, id, label: '连接器', getOptions,
    getValue: () => serviceTaskState(element).connector,
    // Another connector takes other parameters: the old ones are dropped with the change.
    setValue: (value) => write((state) => ({ connector: value, params: value === state.connector ? state.params : {} })),
    description: '只发送下面填写的参数，不发送办件的其他数据；调用在办件办理完成后由系统发送，失败自动重试'
  });
}

function ServiceResult({ element, id }) {
  const write = useOperator(element);
  const debounce = useService('debounceInput');
  return jsx(TextFieldEntry, {
    element, id, debounce, label: '结果存入变量', getValue: () => serviceTaskState(element).result,
    setValue: (value) => write(() => ({ result: (value || '').trim() })),
    validate: (value) => (value && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value) ? '变量名只能由字母、数字和下划线组成' : null)
  });
}

function ServiceParam({ element, id, name, spec, required }) {
  const write = useOperator(element);
  const debounce = useService('debounceInput');
  return jsx(TextFieldEntry, {
    element, id, debounce, label: `参数 ${name}${required ? '（必填）' : ''}`,
    getValue: () => serviceTaskState(element).params[name] || '',
    setValue: (value) => write((state) => ({ params: { ...state.params, [name]: value || '' } })),
    description: `${spec.description || ''}表达式，取办件数据，如 applicant['name']；文字须加引号，如 'https://…'`
  });
}

export function serviceEntries(element, add, config) {
  if (!is(element, 'bpmn:ServiceTask')) return;
  add('service-connector', ServiceConnector, isSelectEntryEdited);
  add('service-result', ServiceResult, isTextFieldEntryEdited);
  const connector = config.connectors.find((found) => found.name === serviceTaskState(element).connector);
  if (!connector) return;
  const required = connector.parameters.required || [];
  for (const [name, spec] of Object.entries(connector.parameters.properties || {})) {
    add(`service-param-${name}`, ServiceParam, isTextFieldEntryEdited, { name, spec, required: required.includes(name) });
  }
}
