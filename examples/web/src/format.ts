export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export function formatStatus(status: string): string {
  return status.toLowerCase().replace(/_/g, ' ');
}

/** `advanced_analytics` → `advanced analytics`. */
export function formatName(name: string): string {
  return name.replace(/_/g, ' ');
}

/** `pro` → `Pro`, `advanced analytics` → `Advanced analytics`. */
export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
