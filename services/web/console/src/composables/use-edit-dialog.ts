/**
 * The create-or-edit dialog of an administration table: a form filled blank or from a row,
 * saved through the API, then the dialog closes and the list reloads; a refusal is shown and
 * the form stays open as typed.
 */
import { ElMessage } from 'element-plus';
import { reactive, ref } from 'vue';
import { message } from './use-list.ts';

export function useEditDialog<Row, Form extends object>(o: {
  blank: () => Form;
  fromRow: (row: Row) => Form;
  /** Create (`mode` 'create') or update from the form; throws what the API refused. */
  submit: (form: Form, mode: 'create' | 'edit') => Promise<unknown>;
  /** Reloads the table after a save. */
  reload: () => Promise<void>;
  /** A reason not to send the form (shown as an error), or null. */
  check?: (form: Form) => string | null;
  /** Shown after a save (default 已保存). */
  saved?: string;
}) {
  const dialog = ref<'create' | 'edit' | null>(null);
  const form = reactive(o.blank()) as Form;
  const busy = ref(false);

  function edit(row?: Row): void {
    Object.assign(form, row ? o.fromRow(row) : o.blank());
    dialog.value = row ? 'edit' : 'create';
  }

  async function save(): Promise<void> {
    const refused = o.check?.(form);
    if (refused) return void ElMessage.error(refused);
    busy.value = true;
    try {
      await o.submit(form, dialog.value === 'create' ? 'create' : 'edit');
      ElMessage.success(o.saved ?? '已保存');
      dialog.value = null;
      await o.reload();
    } catch (e) {
      ElMessage.error(`保存失败：${message(e)}`);
    } finally {
      busy.value = false;
    }
  }

  return { dialog, form, busy, edit, save };
}
