'use client';
import { useEffect, useRef, useState } from 'react';

/**
 * The rendered width of an element, followed as it resizes: SVG drawn at its real pixel width keeps
 * its text at a readable size on a phone instead of scaling it down with a fixed viewBox.
 */
export function useWidth<E extends HTMLElement>(fallbackPx: number) {
  const ref = useRef<E>(null);
  const [width, setWidth] = useState(fallbackPx);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(1, Math.floor(el.clientWidth)));
    measure();
    const o = new ResizeObserver(measure);
    o.observe(el);
    return () => o.disconnect();
  }, []);
  return { ref, width };
}
