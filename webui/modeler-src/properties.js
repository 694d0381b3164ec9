// Reading and writing the spiffworkflow:properties the engine reads (README, "Deadlines"), as undoable commands.
import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';

function propertiesElement(bo) {
  const values = (bo.extensionElements && bo.extensionElements.get('values')) || [];
  return values.find((value) => is(value, 'spiffworkflow:Properties'));
}

export function getProperty(element, name) {
  const holder = propertiesElement(getBusinessObject(element));
  const found = holder && holder.get('properties').find((property) => property.name === name);
  return found ? found.value || '' : '';
}

// `changes` maps a property name to its new value; '' or null removes the property. One undo step for all.
export function setProperties(element, changes, bpmnFactory, commandStack) {
  const bo = getBusinessObject(element);
  const commands = [];
  const extensions = extensionsOf(element, bo, bpmnFactory, commands);
  let holder = propertiesElement(bo);
  if (!holder) {
    holder = bpmnFactory.create('spiffworkflow:Properties', { properties: [] });
    holder.$parent = extensions;
    commands.push(update(element, extensions, { values: [...extensions.get('values'), holder] }));
  }
  let list = [...holder.get('properties')];
  for (const [name, value] of Object.entries(changes)) {
    const index = list.findIndex((property) => property.name === name);
    if (value === '' || value === null || value === undefined) {
      if (index >= 0) list.splice(index, 1);
      continue;
    }
    const property = bpmnFactory.create('spiffworkflow:Property', { name, value: String(value) });
    property.$parent = holder;
    if (index >= 0) list[index] = property; else list.push(property);
  }
  commands.push(update(element, holder, { properties: list }));
  commandStack.execute('properties-panel.multi-command-executor', commands);
}

// The element's bpmn:extensionElements, created (as a command in `commands`) when it has none.
export function extensionsOf(element, bo, bpmnFactory, commands) {
  if (bo.extensionElements) return bo.extensionElements;
  const extensions = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
  extensions.$parent = bo;
  commands.push(update(element, bo, { extensionElements: extensions }));
  return extensions;
}

export function update(element, moddleElement, properties) {
  return { cmd: 'element.updateModdleProperties', context: { element, moddleElement, properties } };
}
