/** The console's entry: Element Plus in zh-CN, the router, and the 401 → log-in rule. */
import ElementPlus from 'element-plus';
import zhCn from 'element-plus/es/locale/lang/zh-cn';
import 'element-plus/dist/index.css';
import { createApp } from 'vue';
import App from './App.vue';
import { setUnauthorizedHandler } from './api/client.ts';
import { router, toLogin } from './router.ts';
import { forget } from './session.ts';
import './styles.css';

setUnauthorizedHandler(() => {
  forget();
  toLogin();
});

createApp(App).use(router).use(ElementPlus, { locale: zhCn }).mount('#app');
