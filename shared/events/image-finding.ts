import type { ImageFinding } from '../finding';
import { normaliseEcrImageScan } from './ecr-image-scan';
import type { Home } from './home';
import { normaliseInspectorFinding, normaliseInspectorScan } from './inspector-image';
import { InvalidEventError } from './invalid-event';

const NORMALISERS: Record<string, (event: unknown, home?: Home) => ImageFinding> = {
  'ECR Image Scan': normaliseEcrImageScan,
  'Inspector2 Finding': normaliseInspectorFinding,
  'Inspector2 Scan': normaliseInspectorScan,
};

/** Any image scan event the `imageFinding` function receives, normalised into one model. */
export function normaliseImageFinding(event: unknown, home?: Home): ImageFinding {
  const detailType = (event as { 'detail-type'?: unknown } | null)?.['detail-type'];
  const normalise = typeof detailType === 'string' && Object.hasOwn(NORMALISERS, detailType) ? NORMALISERS[detailType] : undefined;
  if (!normalise) throw new InvalidEventError('detail-type', `is not one of ${Object.keys(NORMALISERS).join(', ')}`);
  return normalise(event, home);
}
