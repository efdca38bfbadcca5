/** A tiny element builder. Text goes in through textContent only: API data is never parsed as HTML. */

export type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  testid?: string;
  /** `data-*` attributes, keys without the prefix. */
  data?: Record<string, string>;
  attrs?: Record<string, string>;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class !== undefined) el.className = props.class;
  if (props.testid !== undefined) el.setAttribute('data-testid', props.testid);
  for (const [k, v] of Object.entries(props.data ?? {})) el.setAttribute(`data-${k}`, v);
  for (const [k, v] of Object.entries(props.attrs ?? {})) el.setAttribute(k, v);
  append(el, children);
  return el;
}

export function append(el: Node, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

/** Puts exactly `wanted` into `container`, in order, moving only nodes that are out of place
 * (moving a node drops focus and resets nothing else, so open forms survive a re-sort). */
export function reconcile(container: Element, wanted: readonly Element[]): void {
  const keep = new Set<Element>(wanted);
  for (const child of Array.from(container.children)) {
    if (!keep.has(child)) child.remove();
  }
  wanted.forEach((el, i) => {
    const at = container.children[i] ?? null;
    if (at !== el) container.insertBefore(el, at);
  });
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} missing from index.html`);
  return el as T;
}
