/** Copies a secret shown once (an API token, a hotline signing key) to the clipboard, saying whether it worked. */
import { ElMessage } from 'element-plus';

export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    ElMessage.success('已复制');
  } catch {
    ElMessage.warning('无法访问剪贴板，请手动复制');
  }
}
