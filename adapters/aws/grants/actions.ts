/** The IAM action names scenario files may grant: `service:Action`, wildcards included (and then reported). */
import { z } from 'zod';

export const awsAction = z.string().regex(/^[a-z0-9-]+:[A-Za-z0-9*]+$/, 'an IAM action such as s3:GetObject');
