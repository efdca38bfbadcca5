/** The new-alert cue: a notification always, a short two-tone beep when the officer turned sound on. */
import { ElNotification } from 'element-plus';
import { ref } from 'vue';
import type { Alert } from '../api/types.ts';
import { alertKindLabel } from '../logic/logic.ts';

const SOUND_KEY = 'huiying.sound';
export const soundOn = ref(typeof localStorage !== 'undefined' && localStorage.getItem(SOUND_KEY) === '1');

export function setSound(on: boolean): void {
  soundOn.value = on;
  localStorage.setItem(SOUND_KEY, on ? '1' : '0');
  if (on) beep();
}

let ctx: AudioContext | null = null;

function beep(): void {
  try {
    ctx ??= new AudioContext();
    const t = ctx.currentTime;
    for (const [i, freq] of [880, 660].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.15, t + i * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.001, t + i * 0.18 + 0.16);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t + i * 0.18);
      osc.stop(t + i * 0.18 + 0.17);
    }
  } catch {
    // No audio (autoplay policy, no device): the visible cue still shows.
  }
}

export function alertCue(alert: Alert, opts: { notify: boolean }): void {
  if (opts.notify) {
    ElNotification({
      title: `新告警：${alertKindLabel(alert)}`,
      message: alert.incidentTitle,
      type: alert.kind === 'breached' ? 'error' : 'warning',
      duration: 8000,
      customClass: 'alert-notification',
    });
  }
  if (soundOn.value) beep();
}
