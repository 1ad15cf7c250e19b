import fs from 'node:fs';

/** `reference`: why this process is shown but not judged against the per-role budget. */
export type RssPeak = { role: string; scenario: string; pid: number; peakMiB: number; samples: number; reference?: string };

/** VmHWM (the kernel's own peak RSS) and VmRSS of a live process, in MiB; null once it is gone. */
export function readRss(pid: number): { rssMiB: number; hwmMiB: number } | null {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

/**
 * Samples the RSS of the processes under test while they run; the peak of a process is the last
 * VmHWM read before it exits (the kernel keeps the high-water mark, so a spike between samples counts).
 */
export function createRssRecorder(everyMs = 500) {
  const peaks: RssPeak[] = [];
  return {
    peaks,
    track(role: string, scenario: string, pid: number, options: { reference?: string } = {}): () => RssPeak {
      const entry: RssPeak = { role, scenario, pid, peakMiB: 0, samples: 0, ...options };
      peaks.push(entry);
      const sample = () => {
        const r = readRss(pid);
        if (!r) return;
        entry.samples += 1;
        entry.peakMiB = Math.max(entry.peakMiB, r.hwmMiB, r.rssMiB);
      };
      sample();
      const timer = setInterval(sample, everyMs);
      return () => {
        sample();
        clearInterval(timer);
        entry.peakMiB = Math.round(entry.peakMiB * 10) / 10;
        return entry;
      };
    },
  };
}

export type RssRecorder = ReturnType<typeof createRssRecorder>;
