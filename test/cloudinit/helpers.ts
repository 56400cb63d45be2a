import type { JoinInput, MasterJoinInput } from '../../lib/cloudinit/index.js';

export const TOKEN = { id: 'abcdef', secret: '0123456789abcdef' };
export const CA_HASH = `sha256:${'0f'.repeat(32)}`;
export const CERT_KEY = 'e6a2eb8581237ab72a4f494f30285ec12a9694d750b9785706a83bfcbbbd2204';

export function workerInput(over: Partial<JoinInput> = {}): JoinInput {
  return {
    clusterName: 'demo', nodeName: 'demo-node-4', apiEndpoint: '10.0.0.10:6443', token: TOKEN, caCertHash: CA_HASH,
    k8sVersion: '1.29.3', createdAt: new Date('2026-01-02T03:04:05Z'), ...over,
  };
}

export function masterInput(over: Partial<MasterJoinInput> = {}): MasterJoinInput {
  return { ...workerInput({ nodeName: 'demo-master-2' }), certificateKey: CERT_KEY, ...over };
}

/** The write_files entry at `path`, parsed. */
export function fileContent(doc: Record<string, unknown>, path: string): string {
  const files = doc.write_files as { path: string; content: string }[];
  const f = files.find((x) => x.path === path);
  if (!f) throw new Error(`no write_files entry ${path}`);
  return f.content;
}

/** Versions the matrix tests render for: both kubeadm API versions and the learner-mode boundaries. */
export const VERSIONS = ['1.24.17', '1.28.15', '1.29.3', '1.30.14', '1.31.0', '1.32.4', '1.34.1'];
