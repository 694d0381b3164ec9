// Code in the panel checked by the server's deploy check as it is typed; answers shown as the entries' errors.
const WAIT_MS = 400;

export default function CodeChecker(eventBus, bianminConfig) {
  let errors = {};
  let generation = 0;
  const pending = {};

  const show = () => eventBus.fire('propertiesPanel.setErrors', { errors });

  // A new selection shows only its own entries' answers: late answers for the old one are dropped.
  eventBus.on('selection.changed', () => {
    generation += 1;
    errors = {};
    show();
  });

  this.check = (entryId, kind, source, timer) => {
    clearTimeout(pending[entryId]);
    const asked = generation;
    pending[entryId] = setTimeout(async () => {
      let message;
      try {
        const response = await fetch(bianminConfig.urls.checkCode, {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': bianminConfig.csrf },
          body: JSON.stringify({ kind, source: source || '', timer: timer || '' })
        });
        const body = await response.json().catch(() => ({}));
        message = response.ok ? (body.problems || []).join('；') : (body.error || `检查失败（HTTP ${response.status}）`);
      } catch (error) {
        message = '无法连接服务器检查代码';
      }
      if (asked !== generation) return;
      errors = { ...errors };
      if (message) errors[entryId] = message; else delete errors[entryId];
      show();
    }, WAIT_MS);
  };
}

CodeChecker.$inject = ['eventBus', 'bianminConfig'];
